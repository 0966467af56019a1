"""Page URLs of activity (included by inventory.urls)."""

from django.urls import path

from inventory.views import activity

urlpatterns = [
    path("locations/<str:code>/activity/", activity.location_activity, name="location-activity"),
]
