"""API v1 for shipments (SBBK), their receipts (SBBM) and the scanner: thin views over the services.

Who may do what:
- a shipment is visible when its origin or its destination is in the user's subtree;
  any other number, and a number that does not exist, is the same 404;
- warehouse staff of the origin create and dispatch (others who can see the draft: 403);
- staff of the destination receive; anyone else gets the same 404 as for an unknown
  shipment, so the receiving endpoint does not confirm that a shipment exists;
- the token (``qr_url``, ``qr.svg``, the scanner's ``receive_url``) is shown only
  to staff of the origin and the destination.

Requests are parsed by ``shipment_serializers`` (400 per field); the services decide
everything else and raise ``AlokonError`` (400, 404, 409), which
``alokon.api_errors`` turns into ``{"detail", "code"}``. A service rolls its own
transaction back on error, so a refused request has posted nothing.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api import params as p
from inventory.api import shipment_serializers as s
from inventory.api.pagination import ApiPagination
from inventory.api.serializers import ErrorSerializer
from inventory.models import Discrepancy, Receipt, ReceiptLine, Shipment, ShipmentLine, ShipmentStatus
from inventory.qr import qr_svg, shipment_url
from inventory.scanning.resolve import resolve_scan
from inventory.selectors.scope import location_for_user, user_can_see
from inventory.selectors.shipments import shipments_for
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch

NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description=gettext_lazy("Shipment number, e.g. SBBK-72-2025-000001.")
)
INVALID = OpenApiResponse(description=gettext_lazy('Invalid request: {"field": ["message", …]} or {"detail", "code"}.'))
NOT_FOUND = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Unknown, or outside your subtree."))
CONFLICT = OpenApiResponse(ErrorSerializer, description=gettext_lazy("Not possible in the shipment's state."))


# --- who sees and does what -----------------------------------------------------------------


def parse_body(serializer_class, request) -> dict:
    """The validated request body, or a ``ValidationError`` (400); malformed JSON is DRF's 400."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _detail_queryset(queryset):
    lines = ShipmentLine.objects.select_related("product", "lot").order_by("id")
    receipt_lines = ReceiptLine.objects.select_related("product", "lot").order_by("id")
    return queryset.select_related("origin", "destination", "created_by", "dispatched_by").prefetch_related(
        Prefetch("lines", queryset=lines),
        Prefetch(
            "receipts",
            queryset=Receipt.objects.select_related("received_by")
            .prefetch_related(Prefetch("lines", queryset=receipt_lines))
            .order_by("received_at", "id"),
        ),
        Prefetch("discrepancies", queryset=Discrepancy.objects.select_related("product", "lot").order_by("id")),
    )


def shipment_for_user(user, number: str, *, detail: bool = False) -> Shipment:
    shipments = shipments_for(user).filter(number=number)
    shipment = (_detail_queryset(shipments) if detail else shipments.select_related("origin", "destination")).first()
    if shipment is None:
        raise Http404(_("Shipment %(number)s was not found.") % {"number": number})
    return shipment


def _require_shipper(user) -> None:
    """Warehouse staff with a home location (a superuser acts for their own location)."""
    if user.location_id is None or not user.is_warehouse_staff:
        raise PermissionDenied(_("Only warehouse staff create and dispatch shipments."))


def _can_receive(user, shipment: Shipment) -> bool:
    """Staff of the destination itself, as ``receipt_record`` requires, or a superuser who can see it."""
    if user.location_id == shipment.destination_id:
        return True
    return user.is_superuser and user_can_see(user, shipment.destination)


def _detail_response(request, shipment: Shipment, *, code=status.HTTP_200_OK, **context) -> Response:
    shipment = shipment_for_user(request.user, shipment.number, detail=True)
    serializer_class = s.DispatchSerializer if "warnings" in context else s.ShipmentDetailSerializer
    return Response(serializer_class(shipment, context={"user": request.user, **context}).data, status=code)


# --- shipments ------------------------------------------------------------------------------


class ShipmentList(generics.ListCreateAPIView):
    pagination_class = ApiPagination

    def get_serializer_class(self):
        return s.ShipmentCreateInput if self.request.method == "POST" else s.ShipmentSerializer

    def get_queryset(self):
        query = p.parse_query(s.ShipmentListParams, self.request)
        user = self.request.user
        shipments = shipments_for(user)
        if query.get("status"):
            shipments = shipments.filter(status=query["status"])
        if query.get("origin"):
            shipments = shipments.filter(origin=location_for_user(user, query["origin"]))
        if query.get("destination"):
            shipments = shipments.filter(destination=location_for_user(user, query["destination"]))
        lines = ShipmentLine.objects.select_related("product", "lot").order_by("id")
        return (
            shipments.select_related("origin", "destination")
            .prefetch_related(Prefetch("lines", queryset=lines))
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        parameters=[s.ShipmentListParams],
        description=gettext_lazy(
            "Shipments from or to your subtree, newest first; filter by status and by origin or destination code."
        ),
        responses={200: s.ShipmentSerializer(many=True), 400: INVALID, 404: NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.ShipmentCreateInput,
        description=gettext_lazy(
            "Create a draft shipment from your own location. Lines without a lot get one at dispatch "
            "(first expiry, first out)."
        ),
        responses={
            201: s.ShipmentDetailSerializer,
            400: INVALID,
            403: OpenApiResponse(ErrorSerializer),
            404: NOT_FOUND,
        },
    )
    def post(self, request, *args, **kwargs):
        _require_shipper(request.user)
        data = parse_body(s.ShipmentCreateInput, request)
        origin = location_for_user(request.user, data["origin"])
        shipment = shipment_create(
            origin=origin,
            destination=data["destination"],
            lines=[
                LineSpec(product=line["product"], quantity=line["quantity"], lot=line["lot"]) for line in data["lines"]
            ],
            actor=request.user,
            note=data["note"],
        )
        return _detail_response(request, shipment, code=status.HTTP_201_CREATED)


@extend_schema(parameters=[NUMBER], responses={200: s.ShipmentDetailSerializer, 404: NOT_FOUND})
class ShipmentDetail(APIView):
    def get(self, request, number):
        return _detail_response(request, shipment_for_user(request.user, number))


class ShipmentDispatch(APIView):
    @extend_schema(
        parameters=[NUMBER],
        request=None,
        description=gettext_lazy(
            "Dispatch a draft: allocate lots, move the stock to in transit, issue the QR token. "
            "Not enough stock is a 409 naming each short line; nothing is posted."
        ),
        responses={
            200: s.DispatchSerializer,
            400: INVALID,
            403: OpenApiResponse(ErrorSerializer),
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request, number):
        shipment = shipment_for_user(request.user, number)
        # A dispatched shipment is a 409 from the service, whoever asks.
        if shipment.status == ShipmentStatus.DRAFT:
            _require_shipper(request.user)
            if not request.user.is_superuser and request.user.location_id != shipment.origin_id:
                raise PermissionDenied(_("Only staff of the origin can dispatch this shipment."))
        result = shipment_dispatch(shipment=shipment, actor=request.user)
        return _detail_response(request, result.shipment, warnings=result.warnings)


class SvgOnly(BaseContentNegotiation):
    """Ignore Accept: the image is SVG, and an error is JSON whatever the client asked for."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0]


class ShipmentQrSvg(APIView):
    content_negotiation_class = SvgOnly

    @extend_schema(
        parameters=[NUMBER],
        description=gettext_lazy("The waybill's QR code (the receiving URL), for staff of the origin or destination."),
        operation_id="shipments_qr_svg",
        responses={(200, "image/svg+xml"): OpenApiTypes.STR, 404: NOT_FOUND},
    )
    def get(self, request, number):
        shipment = shipment_for_user(request.user, number)
        if not shipment.token:
            raise Http404(_("Shipment %(number)s has not been dispatched yet.") % {"number": number})
        if not s.may_see_token(request.user, shipment):
            raise Http404(_("Shipment %(number)s was not found.") % {"number": number})
        # Slow I/O outside any transaction; the token never changes, so the browser may keep it.
        response = HttpResponse(qr_svg(shipment_url(shipment.token)), content_type="image/svg+xml")
        response["Cache-Control"] = "private, max-age=604800"
        return response


# --- receipts -------------------------------------------------------------------------------


class ShipmentReceipts(APIView):
    @extend_schema(
        parameters=[NUMBER],
        request=s.ReceiptInput,
        description=gettext_lazy(
            "Record what arrived. The same client_uuid with the same body returns the first receipt (200) and "
            "posts nothing; with a different body it is a 409."
        ),
        responses={
            201: s.ReceiptSerializer,
            200: s.ReceiptSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request, number):
        shipment = shipment_for_user(request.user, number)
        if not _can_receive(request.user, shipment):
            raise Http404(_("Shipment %(number)s was not found.") % {"number": number})
        data = parse_body(s.ReceiptInput, request)
        result = receipt_record(
            shipment=shipment,
            lines=[
                ReceiptLineSpec(
                    product=line["product"], lot=line["lot"], received=line["received"], damaged=line["damaged"]
                )
                for line in data["lines"]
            ],
            client_uuid=data["client_uuid"],
            actor=request.user,
            note=data["note"],
        )
        receipt = (
            Receipt.objects.select_related("shipment", "received_by")
            .prefetch_related(
                Prefetch("lines", queryset=ReceiptLine.objects.select_related("product", "lot").order_by("id")),
                Prefetch("discrepancies", queryset=Discrepancy.objects.select_related("product", "lot").order_by("id")),
            )
            .get(pk=result.receipt.pk)
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(s.ReceiptSerializer(receipt).data, status=code)


# --- scanner --------------------------------------------------------------------------------


class Scan(APIView):
    @extend_schema(
        request=s.ScanInput,
        description=gettext_lazy(
            "What a scanned or typed code is: a shipment (its URL or SBBK number) or a product lot (a GS1 code)."
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="ScanResult",
                serializers=[s.ScanShipmentSerializer, s.ScanLotSerializer],
                resource_type_field_name="type",
            ),
            400: INVALID,
            404: NOT_FOUND,
        },
    )
    def post(self, request):
        data = parse_body(s.ScanInput, request)
        result = resolve_scan(data["code"], user=request.user)
        if result.type == "shipment":
            shipment = result.shipment
            url = shipment_url(result.token) if result.token and s.may_see_token(request.user, shipment) else None
            return Response({"type": "shipment", "number": result.number, "receive_url": url})
        return Response(
            {
                "type": "lot",
                "product": result.product.code,
                "lot": result.batch,
                "expiry": result.expiry.isoformat() if result.expiry else None,
                "gtin": result.gtin,
                "lot_known": result.lot is not None,
            }
        )
