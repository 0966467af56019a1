"""Report pages: map."""

urlpatterns: list = []
