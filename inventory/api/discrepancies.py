"""API v1 for discrepancies: the list, one record, and resolving it.

A discrepancy is visible when its shipment is (origin or destination in the user's
subtree); any other id, and one that does not exist, is the same 404. Resolving is
``discrepancy_resolve``: it decides who may, what fits the kind and the quantity,
and raises ``AlokonError`` (400, 403, 404, 409) with a message for the user;
nothing is written when it does. A second resolution of a resolved record is a
409 naming who resolved it and when.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api import discrepancy_serializers as s
from inventory.api.pagination import ApiPagination
from inventory.api.params import parse_query
from inventory.api.serializers import ErrorSerializer
from inventory.api.shipments import parse_body
from inventory.selectors.discrepancies import (
    discrepancies_for,
    discrepancy_for_user,
    filter_discrepancies,
    list_queryset,
)
from inventory.selectors.scope import location_for_user
from inventory.services.discrepancies import discrepancy_resolve

ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description=gettext_lazy("The discrepancy's id."))
INVALID = OpenApiResponse(description=gettext_lazy('Invalid request: {"field": ["message", …]} or {"detail", "code"}.'))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Unknown, or outside your subtree."))


class DiscrepancyList(generics.ListAPIView):
    pagination_class = ApiPagination
    serializer_class = s.DiscrepancyRecordSerializer

    def get_queryset(self):
        query = parse_query(s.DiscrepancyListParams, self.request)
        user = self.request.user
        location = location_for_user(user, query["location"]) if query.get("location") else None
        return list_queryset(
            filter_discrepancies(
                discrepancies_for(user),
                status=query.get("status", ""),
                kind=query.get("kind", ""),
                location=location,
                route=query.get("route", ""),
                min_age_days=query.get("min_age"),
            )
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "user": self.request.user}

    @extend_schema(
        parameters=[s.DiscrepancyListParams],
        description=gettext_lazy(
            "Discrepancies of shipments from or to your subtree, newest first; filter by status, kind, "
            "location (origin or destination under it), route level and age in days."
        ),
        responses={200: s.DiscrepancyRecordSerializer(many=True), 400: INVALID, 404: NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DiscrepancyDetail(APIView):
    @extend_schema(parameters=[ID], responses={200: s.DiscrepancyRecordSerializer, 404: NOT_FOUND})
    def get(self, request, id):
        discrepancy = discrepancy_for_user(request.user, id)
        return Response(s.DiscrepancyRecordSerializer(discrepancy, context={"user": request.user}).data)


class DiscrepancyResolve(APIView):
    @extend_schema(
        parameters=[ID],
        request=s.ResolveInput,
        description=gettext_lazy(
            "Resolve a discrepancy: short and overdue by write_off (with a reason: lost, stolen, expired) or "
            "late_receipt; over and other lot by accept or return; damaged by accept. A quantity below the "
            "discrepancy's resolves that much and leaves the rest open as a new record. Resolving a resolved "
            "discrepancy is a 409 naming who resolved it."
        ),
        responses={
            200: s.ResolveResultSerializer,
            400: INVALID,
            403: OpenApiResponse(ErrorSerializer),
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Already resolved, or not enough stock.")),
        },
    )
    def post(self, request, id):
        discrepancy = discrepancy_for_user(request.user, id)
        data = parse_body(s.ResolveInput, request)
        result = discrepancy_resolve(
            discrepancy=discrepancy,
            resolution=data["resolution"],
            actor=request.user,
            quantity=data.get("quantity"),
            reason=data["reason"],
            note=data["note"],
        )
        context = {"user": request.user}
        body = {
            "discrepancy": discrepancy_for_user(request.user, result.discrepancy.pk),
            "remainder": discrepancy_for_user(request.user, result.remainder.pk) if result.remainder else None,
            "related": [discrepancy_for_user(request.user, r.pk) for r in result.related],
        }
        return Response(s.ResolveResultSerializer(body, context=context).data)
