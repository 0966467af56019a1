"""API v1 URLs of dispensing (included by inventory.api.urls before its catch-all 404)."""

urlpatterns: list = []
