"""Query parameters of the API, validated like request bodies.

Each endpoint reads its query string through a small serializer, so a missing or
malformed parameter is a 400 in DRF's usual shape (``{"location": ["…"]}``) with a
translated message, and the same serializer documents the parameters in the
OpenAPI schema. Codes are checked for shape here (a NUL byte or a 1,000-character
code never reaches the database); whether a location exists *for this user* is
decided by ``inventory.selectors.scope`` and is a 404.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.models import Product
from inventory.models.locations import CODE_RE

# Location and product codes share one alphabet: letters, digits, '.', '-' and '_'.
CODE_MAX_LENGTH = 32
code_validator = RegexValidator(CODE_RE, _("Enter a valid code: letters, digits, '.', '-' and '_' only."))


def code_field(help_text, *, required: bool = True) -> serializers.CharField:
    return serializers.CharField(
        required=required, max_length=CODE_MAX_LENGTH, validators=[code_validator], help_text=help_text
    )


class CodeLookupField(serializers.CharField):
    """A code of the right shape that names an existing row; the validated value is the row.

    The shape is checked first (as a string, so a NUL byte or a huge value never
    reaches the database), then ``lookup`` finds the row; none is a 400 with the
    ``unknown`` message.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", CODE_MAX_LENGTH)
        kwargs.setdefault("validators", [code_validator])
        super().__init__(**kwargs)

    def lookup(self, code: str):
        raise NotImplementedError

    def run_validation(self, data=serializers.empty):
        code = super().run_validation(data)
        found = self.lookup(code)
        if found is None:
            # %-formatting, not fail(**kwargs): the message is lazy and DRF's fail() uses str.format.
            raise serializers.ValidationError(self.error_messages["unknown"] % {"code": code}, code="unknown")
        return found


class ProductCodeField(CodeLookupField):
    """A product code that must exist; the validated value is the ``Product``.

    Unknown product is a 400, not a 404: products are public master data, so the
    bad value is simply an invalid parameter (unlike a location, whose existence
    outside the user's subtree must not be revealed).
    """

    default_error_messages = {"unknown": _("There is no product with code %(code)s.")}

    def lookup(self, code: str):
        return Product.objects.filter(code=code).first()


class LocationListParams(serializers.Serializer):
    parent = code_field(_("Only the children of this location (its code)."), required=False)


class StockParams(serializers.Serializer):
    location = code_field(_("Code of the location whose stock is listed."))
    product = ProductCodeField(required=False, help_text=_("Only this product (its code)."))


class StockCardParams(serializers.Serializer):
    location = code_field(_("Code of the location."))
    product = ProductCodeField(help_text=_("Code of the product."))
    date_from = serializers.DateField(required=False, help_text=_("Only entries on or after this business date."))
    date_to = serializers.DateField(required=False, help_text=_("Only entries on or before this business date."))

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": _("The end date is before the start date.")})
        return attrs


def parse_query(params_class: type[serializers.Serializer], request) -> dict:
    """The validated query parameters, or a ``ValidationError`` (400)."""
    params = params_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data
