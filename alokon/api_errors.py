"""REST API error shape: DRF's handler, plus our typed domain errors as clear 4xx."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    return drf_exception_handler(exc, context)
