"""REST API error shape: DRF's handler, plus our typed domain errors as clear 4xx.

- ``inventory.errors.AlokonError`` → its ``http_status`` with ``{"detail", "code"}``;
  the message was translated when the error was raised.
- Django's ``Http404`` → 404; the scope selectors raise it with a translated message,
  and a bare one gets DRF's translated "Not found."
- Django's ``ValidationError`` (a model's ``clean``) → 400 in DRF's validation shape,
  instead of an unhandled 500.
- DRF's ``ValidationError`` keeps DRF's shape (``{"field": ["message"]}``); every other
  error is ``{"detail": message, "code": code}`` so clients can branch on ``code``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from inventory.errors import AlokonError


def exception_handler(exc, context):
    if isinstance(exc, AlokonError):
        set_rollback()
        return Response({"detail": exc.message, "code": exc.code}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is not None and not isinstance(exc, exceptions.ValidationError):
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        code = getattr(detail, "code", None)
        if code:
            response.data["code"] = code
    return response
