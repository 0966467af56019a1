"""Rate limiting of logins (django-axes): the lockout answer, and the API's token endpoint.

django-axes counts failed ``authenticate()`` calls per user name and client address
(settings: ``AXES_*``) and refuses further attempts for a cool-off period. Its
middleware turns a locked-out request into the answer built here:

- the login form (and the admin's): a page saying so, HTTP 429;
- the API (``POST /api/v1/auth/token/``, DRF's ``obtain_auth_token``): JSON in the
  API's error shape, ``{"detail", "code": "locked_out"}``, HTTP 429 with ``Retry-After``.

DRF hands ``authenticate()`` its own ``Request``, which wraps Django's: axes marks
that wrapper as locked out, and the middleware, which sees Django's request, would
never know; the token endpoint would go on answering 400 "unable to log in" while
refusing even the right password. ``AxesHandler`` copies the mark to the wrapped
request so the middleware answers 429 there too.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class AxesHandler(AxesDatabaseHandler):
    """axes' database handler, marking the Django request under DRF's too."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        wrapped = getattr(request, "_request", None)  # rest_framework.request.Request wraps Django's
        if isinstance(wrapped, HttpRequest) and getattr(request, "axes_locked_out", False):
            wrapped.axes_locked_out = True
            wrapped.axes_credentials = getattr(request, "axes_credentials", None)


def cool_off_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    minutes = cool_off_minutes()
    return _(
        "Too many failed log-in attempts for this user from this device. "
        "Try again in %(minutes)d minutes, or ask your administrator to unlock the account."
    ) % {"minutes": minutes}


def _is_api(request: HttpRequest, response: HttpResponse | None) -> bool:
    from rest_framework.response import Response

    return isinstance(response, Response) or request.path_info.startswith("/api/")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: the answer to a locked-out login, in the request's language."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if _is_api(request, original_response):
        response = JsonResponse({"detail": lockout_message(), "code": "locked_out"}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = retry_after
    return response


class RequestlessLoginBackend(AxesStandaloneBackend):
    """For ``alokon.test_settings`` only: axes, except for ``authenticate()`` without a request.

    axes refuses (ValueError) an ``authenticate()`` that passes no request, so that a
    web login which forgot to pass one cannot slip past the rate limit. Every web login
    here passes it (the login form, the admin, DRF's token endpoint); the test client's
    ``login()`` and a few tests calling ``authenticate()`` directly do not, and are no
    attacker's path. Production keeps axes' own, strict backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
