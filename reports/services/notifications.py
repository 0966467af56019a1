"""Delivering alerts: a row in each interested user's inbox, and e-mail once.

Who gets an alert (``recipients``): active users whose scope covers the alert's
location (their home location is the location or one of its ancestors; a superuser
without a home location sees everything) and whose role cares about the kind:
warehouse staff and heads the stock kinds (``STOCK_KINDS``), field workers the
dropout risk and stockouts (``FIELD_KINDS``), managers, administrators and
superusers every kind. One SQL definition serves both the single-alert query and the
set-based delivery, so they cannot drift apart.

``deliver_new_alerts(alert_ids)`` (``compute_alerts`` calls it after commit):

1. inserts the inbox rows in one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` on the
   (alert, user) unique constraint, so delivering twice, or two workers at once,
   still leaves one row per user;
2. e-mails each notification of a user who wants alerts immediately, claiming it
   first with ``UPDATE … SET emailed_at = now() WHERE id = … AND emailed_at IS NULL
   RETURNING id`` in its own (autocommit) statement: of two deliveries racing, only
   the one whose UPDATE returned the row sends it.

Delivery is **at most once**: the claim commits before the message is handed to the
mail server. A send that raises un-claims the row (it was certainly not sent), so
``deliver_pending`` retries it; a process killed between the claim and the send
loses that one e-mail (the alert is still in the inbox) rather than ever sending it
twice. The window is one SMTP call per notification, because each is claimed just
before it is sent.

``deliver_pending`` (the sweep task, every few minutes) repairs what a crash left:
recent active alerts with no inbox row at all (the worker died between committing
the alerts and delivering them) and recent unsent immediate e-mails.

``send_daily_digests`` sends users who chose the daily digest one e-mail with every
notification not yet e-mailed, claimed in one ``UPDATE … RETURNING`` per user.

Text is in the site's language (``settings.LANGUAGE_CODE``: users have no language
of their own), built by ``reports.alert_text`` from the alert's figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from alokon.models import AlertEmail, Role
from inventory.models import Location
from reports.models import ACTIVE, FIELD_KINDS, STOCK_KINDS, Alert, Notification

logger = logging.getLogger(__name__)

#: how far back the sweep looks for alerts and e-mails a crash may have left undelivered
CATCH_UP_WINDOW = dt.timedelta(hours=24)

#: roles and the kinds they care about (None: every kind)
ROLE_KINDS: dict[str, tuple[str, ...] | None] = {
    Role.WAREHOUSE: tuple(str(k) for k in STOCK_KINDS),
    Role.HEAD: tuple(str(k) for k in STOCK_KINDS),
    Role.FIELD: tuple(str(k) for k in FIELD_KINDS),
    Role.MANAGER: None,
    Role.ADMIN: None,
}


def _recipients_sql() -> str:
    """(alert_id, user_id) pairs for the alerts in ``%(alerts)s``: scope and role.

    A user's scope covers a location when their home location's path is a prefix of
    it: the alert location's path is cut at each "/" into its ancestors' paths, which
    the unique index on ``path`` finds (at most four per alert), rather than comparing
    every alert with every user.
    """
    user = get_user_model()._meta.db_table
    location = Location._meta.db_table
    alert = Alert._meta.db_table
    return f"""
        SELECT a.id AS alert_id, u.id AS user_id
          FROM {alert} a
          JOIN {location} l ON l.id = a.location_id
         CROSS JOIN LATERAL (
                SELECT left(l.path, p.pos) AS prefix
                  FROM generate_series(1, length(l.path)) AS p(pos)
                 WHERE substr(l.path, p.pos, 1) = '/') anc
          JOIN {location} home ON home.path = anc.prefix
          JOIN {user} u ON u.location_id = home.id
         WHERE a.id = ANY(%(alerts)s) AND u.is_active
           AND (u.is_superuser OR u.role = ANY(%(every_kind)s)
                OR (u.role, a.kind) IN (SELECT * FROM unnest(%(pair_roles)s::text[], %(pair_kinds)s::text[])))
        UNION
        SELECT a.id, u.id
          FROM {alert} a
          JOIN {user} u ON u.location_id IS NULL AND u.is_superuser
         WHERE a.id = ANY(%(alerts)s) AND u.is_active
    """


def _recipients_params(alert_ids: Collection[int]) -> dict:
    pairs = [(role, kind) for role, kinds in ROLE_KINDS.items() for kind in kinds or ()]
    return {
        "alerts": list(alert_ids),
        "every_kind": [str(role) for role, kinds in ROLE_KINDS.items() if kinds is None],
        "pair_roles": [str(role) for role, _kind in pairs],
        "pair_kinds": [kind for _role, kind in pairs],
    }


def recipients(alert: Alert) -> QuerySet:
    """The users who get ``alert`` in their inbox (active, in scope, role cares)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT user_id FROM ({_recipients_sql()}) r", _recipients_params([alert.pk]))
        ids = [row[0] for row in cursor.fetchall()]
    return get_user_model().objects.filter(pk__in=ids).order_by("pk")


@dataclass
class Delivery:
    notified: int = 0  # inbox rows created
    emailed: int = 0  # e-mails handed to the mail server
    failed: int = 0  # e-mails whose sending raised (un-claimed, retried later)


def deliver_new_alerts(alert_ids: Iterable[int]) -> Delivery:
    """Put newly opened alerts in their recipients' inboxes; e-mail those who want it now."""
    ids = sorted(set(alert_ids))
    delivery = Delivery()
    if not ids:
        return delivery
    delivery.notified = _create_notifications(ids)
    pending = _pending_immediate(alert_ids=ids)
    _email_each(pending, delivery)
    logger.info(
        "alerts: %d alert(s) delivered: %d inbox row(s), %d e-mail(s) sent, %d failed",
        len(ids),
        delivery.notified,
        delivery.emailed,
        delivery.failed,
    )
    return delivery


def deliver_pending(now: dt.datetime | None = None) -> Delivery:
    """Repair what a crash left: recent active alerts nobody was notified of, recent unsent e-mails."""
    now = now or timezone.now()
    since = now - CATCH_UP_WINDOW
    orphans = list(
        Alert.objects.filter(status__in=ACTIVE, opened_at__gte=since)
        .exclude(notifications__isnull=False)
        .values_list("pk", flat=True)
    )
    delivery = Delivery()
    if orphans:
        delivery.notified = _create_notifications(orphans)
    _email_each(_pending_immediate(since=since), delivery)
    if delivery.notified or delivery.emailed or delivery.failed:
        logger.info(
            "alerts: caught up %d inbox row(s), %d e-mail(s) sent, %d failed",
            delivery.notified,
            delivery.emailed,
            delivery.failed,
        )
    return delivery


def _create_notifications(alert_ids: Collection[int]) -> int:
    table = Notification._meta.db_table
    alert = Alert._meta.db_table
    active = ", ".join(f"'{s}'" for s in ACTIVE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (alert_id, user_id, created_at)
            SELECT r.alert_id, r.user_id, %(now)s
              FROM ({_recipients_sql()}) r
              JOIN {alert} a ON a.id = r.alert_id AND a.status IN ({active})
             ORDER BY r.alert_id, r.user_id
                ON CONFLICT (alert_id, user_id) DO NOTHING
            """,
            {**_recipients_params(alert_ids), "now": timezone.now()},
        )
        return cursor.rowcount


def _pending_immediate(*, alert_ids: Collection[int] | None = None, since: dt.datetime | None = None) -> list[int]:
    """Unsent notifications of active alerts for users who want each alert as it opens."""
    qs = Notification.objects.filter(
        emailed_at__isnull=True,
        alert__status__in=ACTIVE,
        user__is_active=True,
        user__alert_email=AlertEmail.IMMEDIATE,
    ).exclude(user__email="")
    if alert_ids is not None:
        # One array parameter, not one placeholder per id (a first national run opens
        # 100,000+ alerts at once).
        qs = qs.filter(alert_id__in=RawSQL("SELECT unnest(%s::bigint[])", [list(alert_ids)]))
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return list(qs.order_by("pk").values_list("pk", flat=True))


def _claim(notification_ids: Collection[int], *, user_id: int | None = None) -> list[int]:
    """Mark unsent notifications as e-mailed; return the ids this call claimed.

    One conditional UPDATE: of two callers racing for the same row, PostgreSQL lets
    the second wait for the first and then re-check ``emailed_at IS NULL``, so
    exactly one gets the id back. Called outside any transaction it commits at once,
    which is what makes the delivery at most once.
    """
    table = Notification._meta.db_table
    where = "user_id = %(user)s" if user_id is not None else "id = ANY(%(ids)s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET emailed_at = %(now)s WHERE {where} AND emailed_at IS NULL RETURNING id",
            {"now": timezone.now(), "ids": list(notification_ids), "user": user_id},
        )
        return sorted(row[0] for row in cursor.fetchall())


def _unclaim(notification_ids: Collection[int]) -> None:
    Notification.objects.filter(pk__in=list(notification_ids)).update(emailed_at=None)


def alert_url(alert: Alert) -> str:
    return settings.SITE_URL + reverse("alert-detail", args=[alert.pk])


@contextmanager
def _mail_connection() -> Iterator:
    """An open connection to the mail server, or None when it cannot be reached (logged):
    the caller then claims nothing, so the e-mails stay pending for the next run."""
    mail = get_connection(fail_silently=False)
    try:
        mail.open()
    except Exception:  # noqa: BLE001 - whatever the backend raises, the alerts are committed already
        logger.exception("alerts: the mail server cannot be reached; e-mails stay pending")
        yield None
        return
    try:
        yield mail
    finally:
        mail.close()


def _render(template: str, context: dict) -> tuple[str, str]:
    context = {**context, "preferences_url": settings.SITE_URL + reverse("alert-preferences")}
    subject = render_to_string(f"reports/email/{template}_subject.txt", context)
    body = render_to_string(f"reports/email/{template}_body.txt", context)
    return " ".join(subject.split()), body


def _alert_context(alert: Alert) -> dict:
    from reports import alert_text

    return {
        "alert": alert,
        "title": alert_text.title(alert),
        "text": alert_text.describe(alert),
        "url": alert_url(alert),
    }


def _email_each(notification_ids: list[int], delivery: Delivery) -> None:
    """Claim and send one e-mail per notification, each claimed just before it is sent."""
    if not notification_ids:
        return
    notifications = {
        n.pk: n
        for n in Notification.objects.filter(pk__in=notification_ids).select_related(
            "user", "alert__location", "alert__product"
        )
    }
    with translation.override(settings.LANGUAGE_CODE), _mail_connection() as mail:
        if mail is None:
            delivery.failed += len(notification_ids)
            return
        for pk in notification_ids:
            notification = notifications.get(pk)
            if notification is None or not _claim([pk]):
                continue  # deleted meanwhile, or another delivery claimed it
            context = {**_alert_context(notification.alert), "user": notification.user}
            subject, body = _render("alert", context)
            message = EmailMessage(subject, body, to=[notification.user.email], connection=mail)
            try:
                message.send()
            except Exception:  # noqa: BLE001 - a mail server that is down must not lose the claim for good
                _unclaim([pk])
                delivery.failed += 1
                logger.exception("alerts: e-mail of notification %s to %s failed", pk, notification.user.email)
            else:
                delivery.emailed += 1


def send_daily_digests(today: dt.date | None = None) -> int:
    """E-mail each daily-digest user their notifications not yet e-mailed; return how many digests went out."""
    today = today or timezone.localdate()
    users = (
        get_user_model()
        .objects.filter(is_active=True, alert_email=AlertEmail.DAILY, notifications__emailed_at__isnull=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    sent = 0
    with translation.override(settings.LANGUAGE_CODE), _mail_connection() as mail:
        if mail is None:
            return 0
        for user in users:
            claimed = _claim((), user_id=user.pk)
            if not claimed:
                continue  # another run took them
            notifications = list(
                Notification.objects.filter(pk__in=claimed)
                .select_related("alert__location", "alert__product")
                .order_by("-alert__severity", "alert__location__path", "alert__kind", "pk")
            )
            active = [_alert_context(n.alert) for n in notifications if n.alert.is_active]
            resolved = len(notifications) - len(active)
            if not active:
                continue  # everything resolved before the digest: nothing worth a message (stays claimed)
            context = {"user": user, "today": today, "alerts": active, "resolved": resolved}
            subject, body = _render("digest", context)
            message = EmailMessage(subject, body, to=[user.email], connection=mail)
            try:
                message.send()
            except Exception:  # noqa: BLE001 - retried by tomorrow's digest
                _unclaim(claimed)
                logger.exception("alerts: daily digest to %s failed", user.email)
            else:
                sent += 1
    logger.info("alerts: %d daily digest(s) sent", sent)
    return sent
