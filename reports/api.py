"""API v1 for alerts: the user's inbox, one alert, and acknowledging it.

The list is ``reports.selectors.alerts.alerts_for``: the alerts of the user's
subtree whose kind the user's role receives. A location filter outside the
subtree (or unknown) is a 404, as everywhere in the API; an unknown product code
is a 400 (products are public master data). Any alert id the user does not
receive is the same 404 as an unknown one. Acknowledging is
``reports.services.acknowledge.alert_acknowledge``: a resolved alert, or one
already acknowledged, is a 409 naming who acknowledged it and when.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api.pagination import ApiPagination
from inventory.api.params import parse_query
from inventory.api.serializers import ErrorSerializer
from inventory.api.shipments import parse_body
from inventory.selectors.scope import location_for_user
from reports import serializers as s
from reports.selectors.alerts import STATUS_ACTIVE, alert_for_user, alerts_for
from reports.services.acknowledge import alert_acknowledge

ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description=gettext_lazy("The alert's id."))
INVALID = OpenApiResponse(description=gettext_lazy('Invalid request: {"field": ["message", …]} or {"detail", "code"}.'))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Unknown, or not one of your alerts."))


class AlertList(generics.ListAPIView):
    pagination_class = ApiPagination
    serializer_class = s.AlertSerializer

    def get_queryset(self):
        query = parse_query(s.AlertListParams, self.request)
        user = self.request.user
        location = location_for_user(user, query["location"]) if query.get("location") else None
        return alerts_for(
            user,
            kind=query.get("kind") or None,
            status=query.get("status") or STATUS_ACTIVE,
            location=location,
            product=query.get("product"),
        )

    @extend_schema(
        parameters=[s.AlertListParams],
        description=gettext_lazy(
            "Your alerts: those of your subtree whose kind your role receives (warehouse staff: stock, "
            "shipments, discrepancies, ledger; field workers: dropout risk and stockouts; managers: all). "
            "Active alerts first, then the most severe, then the newest."
        ),
        responses={
            200: s.AlertSerializer(many=True),
            400: INVALID,
            404: OpenApiResponse(ErrorSerializer, description=gettext_lazy("The location is outside your subtree.")),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertDetail(APIView):
    @extend_schema(parameters=[ID], responses={200: s.AlertSerializer, 404: NOT_FOUND})
    def get(self, request, id):
        return Response(s.AlertSerializer(alert_for_user(request.user, id)).data)


class AlertAcknowledge(APIView):
    @extend_schema(
        parameters=[ID],
        request=s.AcknowledgeInput,
        description=gettext_lazy(
            "Acknowledge an open alert, with an optional note; your notification of it is marked read. "
            "A resolved alert, or one already acknowledged, is a 409 naming who acknowledged it and when."
        ),
        responses={
            200: s.AlertSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Already acknowledged, or resolved.")),
        },
    )
    def post(self, request, id):
        alert = alert_for_user(request.user, id)
        data = parse_body(s.AcknowledgeInput, request)
        alert_acknowledge(alert=alert, actor=request.user, note=data["note"])
        return Response(s.AlertSerializer(alert_for_user(request.user, id)).data)
