"""The OpenAPI schema is valid and warning-free: scanner apps generate clients from it."""

from django.core.management import call_command


def test_openapi_schema_validates_without_warnings(tmp_path, db):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/shipments/{number}/receipts/", "/api/v1/scan/", "/api/v1/stock-card/"):
        assert path in text
