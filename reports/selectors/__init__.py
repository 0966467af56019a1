"""Read-only queries behind the report pages and their exports."""
