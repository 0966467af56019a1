"""Report pages: trends."""

urlpatterns: list = []
