"""Report pages (mounted at /reports/)."""

urlpatterns: list = []
