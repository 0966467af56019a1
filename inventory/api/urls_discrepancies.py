"""API v1 URLs of discrepancies (included by inventory.api.urls before its catch-all 404)."""

urlpatterns: list = []
