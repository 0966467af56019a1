"""API v1 for stock counts (stock opname): thin views over ``inventory.services.counts``.

- ``GET /counts/?location=&status=``: counts of locations in the user's subtree;
- ``POST /counts/``: a count taken in one step (created and submitted) by staff of the
  location; an optional ``client_uuid`` makes a retry return the same count (200);
- ``GET /counts/<id>/``, ``POST /counts/<id>/approve/``, ``POST /counts/<id>/reject/``.

A count or location outside the user's subtree is a 404, like one that does not
exist. Bodies are checked by ``count_serializers`` (400 per field); the services
raise ``AlokonError`` for the rest (403 who, 409 state or stock), and roll back.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api import count_serializers as s
from inventory.api import params as p
from inventory.api.pagination import ApiPagination
from inventory.api.serializers import ErrorSerializer
from inventory.api.shipments import parse_body
from inventory.models import StockCount, StockCountLine
from inventory.selectors.counts import counts_for
from inventory.selectors.scope import location_for_user
from inventory.services.counts import CountLineSpec, count_approve, count_create_submitted, count_reject

COUNT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description=gettext_lazy("The count's id."))
INVALID = OpenApiResponse(description=gettext_lazy('Invalid request: {"field": ["message", …]} or {"detail", "code"}.'))
FORBIDDEN = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Your role or location may not do this."))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Unknown, or outside your subtree."))
CONFLICT = OpenApiResponse(
    ErrorSerializer, description=gettext_lazy("Not possible in the count's state, or not enough stock to adjust.")
)


def _with_lines(queryset):
    lines = StockCountLine.objects.select_related("product", "lot").order_by(
        "product__code", "lot__expiry", "lot__batch"
    )
    return queryset.select_related("location", "created_by", "submitted_by", "decided_by").prefetch_related(
        Prefetch("lines", queryset=lines)
    )


def count_for_user(user, pk: int) -> StockCount:
    count = _with_lines(counts_for(user)).filter(pk=pk).first()
    if count is None:
        raise Http404(_("Count %(number)s was not found.") % {"number": f"OPN-{pk:06d}"})
    return count


def _response(request, count: StockCount, code=status.HTTP_200_OK) -> Response:
    return Response(s.CountSerializer(count_for_user(request.user, count.pk)).data, status=code)


class CountList(generics.ListCreateAPIView):
    pagination_class = ApiPagination

    def get_serializer_class(self):
        return s.CountCreateInput if self.request.method == "POST" else s.CountSerializer

    def get_queryset(self):
        query = p.parse_query(s.CountListParams, self.request)
        counts = counts_for(self.request.user)
        if query.get("location"):
            counts = counts.filter(location=location_for_user(self.request.user, query["location"]))
        if query.get("status"):
            counts = counts.filter(status=query["status"])
        return _with_lines(counts).order_by("-created_at", "-id")

    @extend_schema(
        parameters=[s.CountListParams],
        description=gettext_lazy("Stock counts of your subtree, newest first; filter by location code and status."),
        responses={200: s.CountSerializer(many=True), 400: INVALID, 404: NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.CountCreateInput,
        description=gettext_lazy(
            "Record a count of your own location, taken now: each line's system quantity is the lot's balance at "
            "this moment, and approval later posts counted minus that. The same client_uuid with the same body "
            "returns the first count (200); with a different body it is a 409."
        ),
        responses={
            201: s.CountSerializer,
            200: s.CountSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request, *args, **kwargs):
        data = parse_body(s.CountCreateInput, request)
        location = location_for_user(request.user, data["location"])
        result = count_create_submitted(
            location=location,
            lines=[CountLineSpec(product=ln["product"], lot=ln["lot"], counted=ln["counted"]) for ln in data["lines"]],
            actor=request.user,
            client_uuid=data["client_uuid"],
            note=data["note"],
            blind=data["blind"],
        )
        return _response(request, result.count, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema(parameters=[COUNT_ID], responses={200: s.CountSerializer, 404: NOT_FOUND})
class CountDetail(APIView):
    def get(self, request, pk):
        return Response(s.CountSerializer(count_for_user(request.user, pk)).data)


class CountApprove(APIView):
    @extend_schema(
        parameters=[COUNT_ID],
        request=s.CountDecisionInput,
        description=gettext_lazy(
            "Approve a submitted count: its differences are posted as one adjustment. For a manager over the "
            "location or its warehouse head, never the person who took the count. Approving twice is a 409."
        ),
        responses={200: s.CountSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk):
        count = count_for_user(request.user, pk)
        data = parse_body(s.CountDecisionInput, request)
        return _response(request, count_approve(count=count, actor=request.user, note=data["note"]))


class CountReject(APIView):
    @extend_schema(
        parameters=[COUNT_ID],
        request=s.CountRejectInput,
        description=gettext_lazy("Reject a submitted count, saying why; nothing is posted."),
        responses={200: s.CountSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk):
        count = count_for_user(request.user, pk)
        data = parse_body(s.CountRejectInput, request)
        return _response(request, count_reject(count=count, actor=request.user, note=data["note"]))
