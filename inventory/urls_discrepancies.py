"""Page URLs of discrepancies (included by inventory.urls)."""

urlpatterns: list = []
