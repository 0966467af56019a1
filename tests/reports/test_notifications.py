"""Notifications: who gets an alert, one inbox row per user, e-mail at most once, daily digests."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.utils import timezone

from alokon.models import AlertEmail, Role
from inventory.models import Level, Product
from reports.models import Alert, AlertKind, AlertStatus, Notification, Severity
from reports.services.notifications import (
    deliver_new_alerts,
    deliver_pending,
    recipients,
    send_daily_digests,
)
from tests.factories import LocationFactory, UserFactory


def _alert(location, kind=AlertKind.LOW_STOCK, product_code="KONDOM", **kwargs) -> Alert:
    figures = {"soh": 40, "amc": 100, "mos": "0.4", "min_months": 1, "max_months": 3, "suggested_order": 260}
    return Alert.objects.create(
        kind=kind,
        location=location,
        product=Product.objects.get(code=product_code) if product_code else None,
        severity=kwargs.pop("severity", Severity.WARNING),
        quantity=kwargs.pop("quantity", 260),
        figures=kwargs.pop("figures", figures),
        **kwargs,
    )


def _user(username, location, role=Role.WAREHOUSE, **kwargs):
    kwargs.setdefault("email", f"{username}@example.org")
    return UserFactory(username=username, location=location, role=role, **kwargs)


def _sent_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


class FailingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


class UnreachableBackend(BaseEmailBackend):
    """A mail server that cannot be reached at all."""

    def open(self):
        raise ConnectionRefusedError("no route to the mail server")

    def send_messages(self, email_messages):  # pragma: no cover - open() fails first
        raise AssertionError("not connected")


@pytest.mark.django_db
class TestRecipients:
    def test_scope_covers_the_location_and_role_cares(self, tree):
        near = LocationFactory(code="72.7", name="Look-alike district", level=Level.DISTRICT, parent=tree["prov"])
        wanted = {
            _user("clinic_staff", tree["c1"]),
            _user("district_staff", tree["palu"]),
            _user("district_head", tree["palu"], Role.HEAD),
            _user("province_manager", tree["prov"], Role.MANAGER),
            _user("national_admin", tree["national"], Role.ADMIN),
            _user("root", None, Role.WAREHOUSE, is_superuser=True),
        }
        _user("sibling_clinic", tree["c2"])
        _user("other_district", tree["sigi"])
        _user("other_province_manager", tree["other"], Role.MANAGER)
        _user("look_alike_prefix", near)  # path 00/72/72.7/ is not an ancestor of 00/72/72.71/...
        _user("field_worker", tree["palu"], Role.FIELD)  # low stock is not theirs
        _user("left", tree["palu"], is_active=False)
        _user("nowhere", None)  # no home location, not a superuser: sees nothing

        assert set(recipients(_alert(tree["c1"]))) == wanted

    def test_field_workers_get_dropout_risk_and_stockouts_warehouse_staff_not_dropout(self, tree):
        field = _user("pkb", tree["palu"], Role.FIELD)
        staff = _user("gudang", tree["palu"])
        manager = _user("kabid", tree["prov"], Role.MANAGER)

        dropout = _alert(tree["c1"], AlertKind.DROPOUT_RISK, figures={"rule": "stock_gap", "users_at_risk": 12})
        stockout = _alert(tree["c1"], AlertKind.STOCKOUT, severity=Severity.CRITICAL)
        mismatch = _alert(tree["palu"], AlertKind.LEDGER_MISMATCH, product_code=None, figures={"mismatches": ["x"]})

        assert set(recipients(dropout)) == {field, manager}
        assert set(recipients(stockout)) == {field, staff, manager}
        assert set(recipients(mismatch)) == {staff, manager}


@pytest.mark.django_db
class TestImmediateDelivery:
    def test_one_inbox_row_and_one_email_per_user_even_when_delivered_twice(self, tree, english):
        staff = _user("gudang", tree["palu"])
        manager = _user("kabid", tree["prov"], Role.MANAGER)
        alert = _alert(tree["c1"])

        first = deliver_new_alerts([alert.pk, alert.pk])
        second = deliver_new_alerts([alert.pk])

        assert (first.notified, first.emailed) == (2, 2)
        assert (second.notified, second.emailed) == (0, 0)
        assert Notification.objects.filter(alert=alert).count() == 2
        assert _sent_to() == sorted([staff.email, manager.email])
        assert not Notification.objects.filter(alert=alert, emailed_at__isnull=True).exists()

    def test_email_says_what_happened_with_a_link(self, tree, english):
        _user("gudang", tree["c1"])
        alert = _alert(tree["c1"])

        deliver_new_alerts([alert.pk])

        (message,) = mail.outbox
        assert message.subject == "[alokon] Below minimum · KONDOM · Puskesmas Talise"
        assert "below the minimum of 1.0" in message.body
        assert "Suggested order: 260." in message.body
        assert f"{settings.SITE_URL}/alerts/{alert.pk}/" in message.body
        assert f"{settings.SITE_URL}/account/alerts/" in message.body

    def test_users_who_chose_off_or_daily_get_the_inbox_row_only(self, tree):
        quiet = _user("quiet", tree["palu"], alert_email=AlertEmail.OFF)
        daily = _user("daily", tree["palu"], alert_email=AlertEmail.DAILY)
        no_address = _user("no_address", tree["palu"], email="")
        alert = _alert(tree["c1"])

        deliver_new_alerts([alert.pk])

        assert set(Notification.objects.filter(alert=alert).values_list("user", flat=True)) == {
            quiet.pk,
            daily.pk,
            no_address.pk,
        }
        assert mail.outbox == []
        assert not Notification.objects.filter(emailed_at__isnull=False).exists()

    def test_resolved_alerts_are_not_delivered(self, tree):
        _user("gudang", tree["palu"])
        alert = _alert(tree["c1"], status=AlertStatus.RESOLVED, resolved_at=timezone.now())

        assert deliver_new_alerts([alert.pk]).notified == 0
        assert not Notification.objects.exists()
        assert mail.outbox == []

    def test_a_failed_send_is_unclaimed_and_the_sweep_sends_it(self, tree, settings):
        staff = _user("gudang", tree["palu"])
        alert = _alert(tree["c1"])
        settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

        delivery = deliver_new_alerts([alert.pk])

        assert (delivery.notified, delivery.emailed, delivery.failed) == (1, 0, 1)
        assert Notification.objects.get(alert=alert, user=staff).emailed_at is None

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert deliver_pending().emailed == 1
        assert deliver_pending().emailed == 0
        assert _sent_to() == [staff.email]

    def test_an_unreachable_mail_server_claims_nothing(self, tree, settings):
        staff = _user("gudang", tree["palu"])
        alert = _alert(tree["c1"])
        settings.EMAIL_BACKEND = f"{__name__}.UnreachableBackend"

        delivery = deliver_new_alerts([alert.pk])

        assert (delivery.notified, delivery.emailed) == (1, 0)
        assert Notification.objects.get(alert=alert, user=staff).emailed_at is None
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert deliver_pending().emailed == 1

    def test_the_sweep_notifies_recent_alerts_a_crash_left_undelivered(self, tree):
        staff = _user("gudang", tree["palu"])
        orphan = _alert(tree["c1"])  # committed alert, its on-commit delivery never ran
        old = _alert(tree["c2"], opened_at=timezone.now() - dt.timedelta(days=3))
        resolved = _alert(tree["c1"], AlertKind.OVERSTOCK, status=AlertStatus.RESOLVED, resolved_at=timezone.now())

        delivery = deliver_pending()

        assert (delivery.notified, delivery.emailed) == (1, 1)
        assert list(Notification.objects.values_list("alert", "user")) == [(orphan.pk, staff.pk)]
        assert not Notification.objects.filter(alert__in=[old, resolved]).exists()
        assert deliver_pending().notified == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_send_each_email_once(tree):
    users = [_user(f"staff{i}", tree["palu"]) for i in range(3)] + [_user("kabid", tree["prov"], Role.MANAGER)]
    alert = _alert(tree["c1"])
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            deliver_new_alerts([alert.pk])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Notification.objects.filter(alert=alert).count() == len(users)
    assert _sent_to() == sorted(u.email for u in users)


@pytest.mark.django_db
class TestDailyDigest:
    def test_one_digest_per_user_listing_their_alerts_claimed_once(self, tree, english):
        daily = _user("daily", tree["palu"], alert_email=AlertEmail.DAILY)
        other = _user("daily_province", tree["prov"], Role.MANAGER, alert_email=AlertEmail.DAILY)
        _user("immediate", tree["palu"])
        low = _alert(tree["c1"])
        stockout = _alert(tree["c2"], AlertKind.STOCKOUT, severity=Severity.CRITICAL)
        gone = _alert(tree["c2"], AlertKind.OVERSTOCK)
        deliver_new_alerts([low.pk, stockout.pk, gone.pk])
        mail.outbox.clear()  # the immediate user's own e-mails
        Alert.objects.filter(pk=gone.pk).update(status=AlertStatus.RESOLVED, resolved_at=timezone.now())

        assert send_daily_digests(dt.date(2025, 3, 4)) == 2
        assert send_daily_digests(dt.date(2025, 3, 4)) == 0

        by_user = {message.to[0]: message for message in mail.outbox}
        assert set(by_user) == {daily.email, other.email}
        digest = by_user[daily.email]
        assert digest.subject.startswith("[alokon] 2 new alerts on ")
        body = digest.body
        # Critical first.
        assert body.index("Stockout · KONDOM · Puskesmas Kamonji") < body.index("Below minimum · KONDOM")
        assert f"/alerts/{low.pk}/" in body and f"/alerts/{gone.pk}/" not in body
        assert "1 other alert opened and resolved itself" in body
        assert not Notification.objects.filter(user__in=[daily, other], emailed_at__isnull=True).exists()

    def test_later_alerts_go_in_the_next_digest_only(self, tree):
        daily = _user("daily", tree["palu"], alert_email=AlertEmail.DAILY)
        first = _alert(tree["c1"])
        deliver_new_alerts([first.pk])
        send_daily_digests()
        second = _alert(tree["c2"])
        deliver_new_alerts([second.pk])

        mail.outbox.clear()
        assert send_daily_digests() == 1
        (message,) = mail.outbox
        assert message.to == [daily.email]
        assert f"/alerts/{second.pk}/" in message.body and f"/alerts/{first.pk}/" not in message.body

    def test_a_failed_digest_is_unclaimed_for_the_next_run(self, tree, settings):
        daily = _user("daily", tree["palu"], alert_email=AlertEmail.DAILY)
        alert = _alert(tree["c1"])
        deliver_new_alerts([alert.pk])
        settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

        assert send_daily_digests() == 0
        assert Notification.objects.get(user=daily).emailed_at is None
