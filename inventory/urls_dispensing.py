"""Page URLs of dispensing (included by inventory.urls)."""

urlpatterns: list = []
