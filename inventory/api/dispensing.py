"""API v1 for dispensing, monthly service figures, month close and expired-stock disposal.

Thin views over ``inventory.services.dispensing``, ``service_figures`` and
``disposal``. Every location named goes through ``location_for_user`` (unknown or
outside the subtree: the same 404); who may do what is decided by the services
(403 ``forbidden``); a refusal rolls the service's transaction back, so nothing is
half-written.

- ``POST /dispensing/``: the clinic's staff record a day's dispensing or a month's
  total (``period``); ``GET`` lists the records in the user's subtree.
- ``GET/PUT /service-figures/<clinic>/<YYYY-MM>/``: the month's active and new users
  per method; before the district closes the month a PUT edits in place, after it
  each changed method is a correction (the request needs a ``note``).
- ``POST /service-figures/<district>/<YYYY-MM>/close/``: the district closes a month.
- ``POST /disposals/``: expired stock of the user's location goes to loss.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api import dispensing_serializers as s
from inventory.api.pagination import ApiPagination
from inventory.api.params import parse_query
from inventory.api.serializers import ErrorSerializer
from inventory.api.shipments import parse_body
from inventory.errors import InvalidDocument
from inventory.models import Dispensing, LedgerEntry, Level, Lot, MonthClose, ServiceFigure, StockBalance
from inventory.selectors.scope import location_for_user, visible_locations
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.disposal import dispose_expired
from inventory.services.service_figures import district_of, month_close, service_figures_set

INVALID = OpenApiResponse(description=gettext_lazy('Invalid request: {"field": ["message", …]} or {"detail", "code"}.'))
FORBIDDEN = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Your role or location may not do this."))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Unknown, or outside your subtree."))
CODE = OpenApiParameter("code", str, OpenApiParameter.PATH, description=gettext_lazy("Location code, e.g. 72.71-001."))
MONTH = OpenApiParameter("month", str, OpenApiParameter.PATH, description=gettext_lazy("The month, YYYY-MM."))


def dispensing_queryset(queryset):
    entries = LedgerEntry.objects.filter(quantity__lt=0).select_related("lot__product").order_by("id")
    return queryset.select_related("location", "recorded_by", "movement").prefetch_related(
        Prefetch("movement__entries", queryset=entries)
    )


class DispensingList(generics.ListCreateAPIView):
    pagination_class = ApiPagination

    def get_serializer_class(self):
        return s.DispensingInput if self.request.method == "POST" else s.DispensingSerializer

    def get_queryset(self):
        query = parse_query(s.DispensingListParams, self.request)
        user = self.request.user
        records = Dispensing.objects.filter(location__in=visible_locations(user))
        if query.get("location"):
            root = location_for_user(user, query["location"])
            records = records.filter(location__path__startswith=root.path)
        if query.get("from"):
            records = records.filter(date__gte=query["from"])
        if query.get("to"):
            records = records.filter(date__lte=query["to"])
        return dispensing_queryset(records).order_by("-date", "-id")

    @extend_schema(
        parameters=[s.DispensingListParams],
        description=gettext_lazy("Dispensing records of the clinics in your subtree, newest first."),
        responses={200: s.DispensingSerializer(many=True), 400: INVALID, 404: NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.DispensingInput,
        description=gettext_lazy(
            "Record what a clinic dispensed to acceptors, for a day or as a monthly total. Lines without a lot take "
            "the lots that expire first (never an expired one). Not enough stock is a 409 naming the product; "
            "nothing is posted. The same client_uuid with the same body returns the first record (200)."
        ),
        responses={
            201: s.DispensingSerializer,
            200: s.DispensingSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not enough stock, or a reused UUID.")),
        },
    )
    def post(self, request, *args, **kwargs):
        data = parse_body(s.DispensingInput, request)
        location = location_for_user(request.user, data["location"])
        result = dispensing_record(
            location=location,
            date=data["date"],
            period=data["period"],
            lines=[
                DispensingLineSpec(product=line["product"], quantity=line["quantity"], lot=line["lot"])
                for line in data["lines"]
            ],
            actor=request.user,
            client_uuid=data.get("client_uuid"),
            note=data["note"],
        )
        record = dispensing_queryset(Dispensing.objects.filter(pk=result.dispensing.pk)).get()
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(s.DispensingSerializer(record).data, status=code)


# --- service figures ------------------------------------------------------------------------


def _clinic(user, code: str):
    location = location_for_user(user, code)
    if location.level != Level.CLINIC:
        raise InvalidDocument(
            _("Service figures are reported by clinics; %(location)s is not a clinic.") % {"location": location.name}
        )
    return location


def figures_payload(location, month, *, changed=None) -> dict:
    rows = list(
        ServiceFigure.objects.filter(location=location, month=month)
        .select_related("product", "recorded_by", "replaces")
        .order_by("product__code", "id")
    )
    district = district_of(location)
    close = MonthClose.objects.filter(location=district, month=month).first() if district else None
    payload = {
        "location": location.code,
        "month": f"{month:%Y-%m}",
        "closed": close is not None,
        "closed_at": close.closed_at if close else None,
        "figures": [row for row in rows if row.is_current],
        "corrections": [row for row in rows if row.is_correction],
    }
    if changed is not None:
        payload["changed"] = changed
    return s.FiguresResponse(payload).data


FIGURES_EXAMPLE = OpenApiExample(
    "figures",
    value={"SUNTIK-3": {"active_users": 412, "new_users": 23}, "PIL-KOMB": {"active_users": 180, "new_users": 9}},
    request_only=True,
)
CORRECTION_EXAMPLE = OpenApiExample(
    "correction",
    value={"SUNTIK-3": {"active_users": 415, "new_users": 23}, "note": "Register of Posyandu Tipo added late"},
    request_only=True,
)


class ServiceFigures(APIView):
    @extend_schema(
        parameters=[CODE, MONTH],
        description=gettext_lazy(
            "A clinic's service figures of one month: the current ones per method, whether the district has "
            "closed the month, and the corrections made after it did."
        ),
        responses={200: s.FiguresResponse, 400: INVALID, 404: NOT_FOUND},
    )
    def get(self, request, code, month):
        clinic = _clinic(request.user, code)
        return Response(figures_payload(clinic, s.parse_month(month)))

    @extend_schema(
        parameters=[CODE, MONTH],
        request=OpenApiTypes.OBJECT,
        examples=[FIGURES_EXAMPLE, CORRECTION_EXAMPLE],
        description=gettext_lazy(
            'Set active and new users per method: {"<product code>": {"active_users": n, "new_users": n}}, '
            'optionally with "note". Methods not named are left as they are. Before the district closes the month '
            "the figures are edited in place; after it, each method whose figures change gets a correction record "
            'that keeps the one it replaces, and the request needs a "note" saying why. Entered by the clinic\'s '
            "staff, or by district, province or manager users whose subtree holds the clinic."
        ),
        responses={200: s.FiguresResponse, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def put(self, request, code, month):
        clinic = _clinic(request.user, code)
        first = s.parse_month(month)
        figures, note = s.parse_figures(request.data)
        result = service_figures_set(location=clinic, month=first, figures=figures, actor=request.user, note=note)
        changed = sorted(row.product.code for row in [*result.created, *result.updated])
        return Response(figures_payload(clinic, first, changed=changed))


class MonthCloseView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "code", str, OpenApiParameter.PATH, description=gettext_lazy("District code, e.g. 72.71.")
            ),
            MONTH,
        ],
        request=None,
        description=gettext_lazy(
            "Close a month for a district: its clinics' service figures become final, and a later change is a "
            "correction. Only a month that has ended; closing twice is a 409."
        ),
        responses={
            201: s.MonthCloseSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description=gettext_lazy("The month is already closed.")),
        },
    )
    def post(self, request, code, month):
        district = location_for_user(request.user, code)
        close = month_close(district=district, month=s.parse_month(month), actor=request.user)
        return Response(s.MonthCloseSerializer(close).data, status=status.HTTP_201_CREATED)


# --- disposal -------------------------------------------------------------------------------


class Disposals(APIView):
    @extend_schema(
        request=s.DisposalInput,
        description=gettext_lazy(
            "Dispose of expired stock at your location: every expired lot held, or the batches named, each of "
            "which must have expired. One movement to loss with the reason expired."
        ),
        responses={201: s.DisposalSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request):
        data = parse_body(s.DisposalInput, request)
        location = location_for_user(request.user, data["location"])
        lots = None
        if "lots" in data:
            batches = set(data["lots"])
            # Batches are unique per product: look them up among the lots this location has held.
            held = set(StockBalance.objects.filter(location=location).values_list("lot_id", flat=True))
            lots = list(Lot.objects.filter(pk__in=held, batch__in=batches).select_related("product"))
            unknown = sorted(batches - {lot.batch for lot in lots})
            if unknown:
                raise InvalidDocument(
                    _("%(location)s holds no lot %(batch)s.") % {"location": location.name, "batch": ", ".join(unknown)}
                )
        movement = dispose_expired(location=location, actor=request.user, lots=lots, note=data["note"])
        return Response(
            s.DisposalSerializer(movement, context={"location": location}).data, status=status.HTTP_201_CREATED
        )
