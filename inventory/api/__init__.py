"""REST API v1 for scanner apps and scripts: codes, not database ids, in URLs and payloads."""
