"""Report pages: the distribution map and its data."""

from django.urls import path

from reports import views_map

urlpatterns = [
    path("map/", views_map.report_map, name="report-map"),
    path("map/data.json", views_map.report_map_data, name="report-map-data"),
]
