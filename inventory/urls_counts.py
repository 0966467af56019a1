"""Page URLs of counts (included by inventory.urls)."""

urlpatterns: list = []
