"""Rate limiting of logins (django-axes): the login form and the API's token endpoint.

A user name tried from one address fails AXES_FAILURE_LIMIT (5) times: the next
answer, and every one for the cool-off (15 minutes), is a 429 with a clear message
(a page for the form, the API's JSON error for the token endpoint), even with the
right password. Other users at that address, and the same user elsewhere, are not
locked. A successful login through the form clears the count (a token does not).
"""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

LIMIT = 5
LOCKED = "Too many failed log-in attempts for this user from this device. Try again in 15 minutes"


@pytest.fixture
def users(tree, make_user):
    return {"palu": make_user("kab7271", tree["palu"]), "sigi": make_user("kab7210", tree["sigi"])}


def form_login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def token(client: Client, username: str, password: str):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password})


def test_the_defaults_are_five_failures_and_fifteen_minutes(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_the_login_form_locks_after_five_failures_with_a_page_saying_so(users, password, english):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(LIMIT - 1):
        response = form_login(client, "kab7271", "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert not response.context["user"].is_authenticated

    response = form_login(client, "kab7271", "wrong")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert response["Retry-After"] == "900"
    assert "registration/locked_out.html" in [t.name for t in response.templates]

    # The right password changes nothing during the cool-off.
    response = form_login(client, "kab7271", password)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session

    # Another user at the same address, and the same user from another address, log in.
    assert form_login(client, "kab7210", password).status_code == 302
    assert form_login(Client(REMOTE_ADDR="10.2.2.2"), "kab7271", password).status_code == 302

    # After the cool-off the user logs in again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert form_login(client, "kab7271", password).status_code == 302


def test_the_token_endpoint_locks_with_a_429_in_the_api_error_shape(users, password, english):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(LIMIT - 1):
        response = token(client, "kab7271", "wrong")
        assert response.status_code == 400
        assert "token" not in response.json()

    for attempt_password in ("wrong", password):  # the limit, then the right password
        response = token(client, "kab7271", attempt_password)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "locked_out"
        assert body["detail"].startswith(LOCKED)
        assert response["Retry-After"] == "900"

    assert token(client, "kab7210", password).status_code == 200
    assert token(Client(REMOTE_ADDR="10.2.2.2"), "kab7271", password).status_code == 200


def test_the_form_and_the_api_share_one_count(users, password):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(3):
        form_login(client, "kab7271", "wrong")
    for _ in range(LIMIT - 3 - 1):
        token(client, "kab7271", "wrong")
    assert token(client, "kab7271", "wrong").status_code == 429
    assert form_login(client, "kab7271", password).status_code == 429


def test_a_successful_login_through_the_form_clears_the_count(users, password):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(LIMIT - 1):
        token(client, "kab7271", "wrong")
    assert form_login(client, "kab7271", password).status_code == 302
    for _ in range(LIMIT - 1):
        assert token(client, "kab7271", "wrong").status_code == 400
    assert token(client, "kab7271", password).status_code == 200


def test_a_token_does_not_clear_the_count(users, password):
    # DRF's token endpoint logs no one in (no user_logged_in signal, which is what
    # clears the count): a script that mistypes now and then is still limited.
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(LIMIT - 1):
        token(client, "kab7271", "wrong")
    assert token(client, "kab7271", password).status_code == 200
    assert token(client, "kab7271", "wrong").status_code == 429


def test_the_lockout_message_follows_the_request_language(users):
    client = Client(REMOTE_ADDR="10.1.1.1", HTTP_ACCEPT_LANGUAGE="id")
    for _ in range(LIMIT):
        response = token(client, "kab7271", "wrong")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert response.json()["detail"]  # Indonesian once the lead has translated it (tests/test_translations.py)
