"""Page URLs of activity (included by inventory.urls)."""

urlpatterns: list = []
