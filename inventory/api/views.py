"""API v1 views: thin reads over the scope and stock selectors.

Every location a request names goes through ``inventory.selectors.scope``: one
outside the user's subtree, virtual, or unknown is the same 404, so the API never
reveals that a location exists elsewhere. Parameters are parsed by the serializers
in ``params``; errors take the shape set in ``alokon.api_errors``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from inventory.api import params as p
from inventory.api.pagination import ApiPagination, NoCountPagination
from inventory.api.serializers import (
    ErrorSerializer,
    LocationSerializer,
    StockCardEntrySerializer,
    StockRowSerializer,
)
from inventory.selectors.scope import location_for_user, visible_locations
from inventory.selectors.stock import stock_card, stock_card_filter, stock_rows

ERRORS = {
    400: OpenApiResponse(description=_('Invalid query parameters: {"parameter": ["message", …]}.')),
    404: OpenApiResponse(ErrorSerializer, description=_("The location is unknown or outside your subtree.")),
}


@extend_schema(
    parameters=[p.LocationListParams],
    description=_("Locations in your subtree, in tree order; with `parent`, only that location's children."),
    responses={200: LocationSerializer(many=True), **ERRORS},
)
class LocationList(generics.ListAPIView):
    serializer_class = LocationSerializer
    pagination_class = ApiPagination

    def get_queryset(self):
        query = p.parse_query(p.LocationListParams, self.request)
        locations = visible_locations(self.request.user).select_related("parent")
        if "parent" in query:
            locations = locations.filter(parent=location_for_user(self.request.user, query["parent"]))
        return locations.order_by("path")


@extend_schema(
    parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description=_("Location code, e.g. 72.71-001."))],
    responses={200: LocationSerializer, 404: ERRORS[404]},
)
class LocationDetail(generics.RetrieveAPIView):
    serializer_class = LocationSerializer

    def get_object(self):
        return location_for_user(self.request.user, self.kwargs["code"])


@extend_schema(
    parameters=[p.StockParams],
    description=_("Stock on hand at one location by product and lot (positive balances only, earliest expiry first)."),
    responses={200: StockRowSerializer(many=True), **ERRORS},
)
class StockList(generics.ListAPIView):
    serializer_class = StockRowSerializer
    pagination_class = ApiPagination

    def get_queryset(self):
        query = p.parse_query(p.StockParams, self.request)
        location = location_for_user(self.request.user, query["location"])
        product = query.get("product")
        return stock_rows(location, product_code=product.code if product else None).select_related("location")


@extend_schema(
    parameters=[p.StockCardParams],
    description=_(
        "The stock card (kartu stok) of one product at one location: its ledger entries in posting order. "
        "Pages hold at most 1000 entries; follow `next` until it is null."
    ),
    responses={200: StockCardEntrySerializer(many=True), **ERRORS},
)
class StockCard(generics.ListAPIView):
    serializer_class = StockCardEntrySerializer
    pagination_class = NoCountPagination

    def get_queryset(self):
        query = p.parse_query(p.StockCardParams, self.request)
        location = location_for_user(self.request.user, query["location"])
        product = query["product"]
        entries = stock_card(location, product)
        return entries.filter(stock_card_filter(query.get("date_from"), query.get("date_to")))


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Any other path under the API: a JSON 404, not the site's HTML page."""

    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        # Raised for every method (GET, POST, OPTIONS…): there is nothing here.
        super().initial(request, *args, **kwargs)
        raise NotFound()
