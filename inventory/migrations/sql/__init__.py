"""Raw SQL for migrations, one file per step with its ``_reverse`` twin."""

from pathlib import Path

from django.db import migrations

HERE = Path(__file__).resolve().parent


def run_sql_file(name: str) -> migrations.RunSQL:
    """A RunSQL operation reading ``<name>.sql`` and ``<name>_reverse.sql`` beside this file."""
    return migrations.RunSQL(
        sql=(HERE / f"{name}.sql").read_text(),
        reverse_sql=(HERE / f"{name}_reverse.sql").read_text(),
    )
