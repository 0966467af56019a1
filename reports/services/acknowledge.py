"""Acknowledging an alert: "I have seen this, here is what I am doing about it".

Whoever receives the alert may acknowledge it (the rule of
``reports.selectors.alerts.alerts_for``: the alert's location in their subtree and
a kind their role receives); anyone else gets the same 404 as for an unknown id.
Only an open alert can be acknowledged: a resolved one (the condition cleared) and
one someone already acknowledged are a 409, the second naming who and when.

The alert row is locked first (``SELECT … FOR UPDATE OF`` the alert only, not the
joined location and product), then its state is checked: of two people pressing
the button at once, the second waits for the first's commit, sees "acknowledged"
and gets the 409, so an acknowledgement is never silently overwritten. The alert
computation may update the same row (figures, ``updated_at``) or resolve it; it
takes the same row lock through its UPDATE, so either order is consistent.
The actor's notification of the alert is marked read in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alokon.text import local_datetime
from inventory.errors import DocumentConflict, InvalidDocument, ScopeError
from reports.models import Alert, AlertStatus, Notification
from reports.selectors.alerts import STATUS_ALL, alerts_for

NOTE_MAX_LENGTH = 1000


def alert_acknowledge(*, alert: Alert, actor, note: str = "") -> Alert:
    """Acknowledge ``alert`` as ``actor`` with an optional note; the updated alert."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidDocument(
            _("The note is too long: at most %(max)d characters, not %(length)d.")
            % {"max": NOTE_MAX_LENGTH, "length": len(note)}
        )
    with transaction.atomic():
        locked = alerts_for(actor, status=STATUS_ALL).filter(pk=alert.pk).select_for_update(of=("self",)).first()
        if locked is None:
            raise ScopeError(_("Alert %(id)s was not found.") % {"id": alert.pk})
        if locked.status == AlertStatus.RESOLVED:
            raise DocumentConflict(
                _("This alert was resolved on %(when)s: the condition has cleared, there is nothing to acknowledge.")
                % {"when": _when(locked.resolved_at)}
            )
        if locked.status == AlertStatus.ACKNOWLEDGED:
            who = locked.acknowledged_by
            raise DocumentConflict(
                _("%(user)s already acknowledged this alert on %(when)s.")
                % {"user": who.display_name if who else "?", "when": _when(locked.acknowledged_at)}
            )
        now = timezone.now()
        locked.status = AlertStatus.ACKNOWLEDGED
        locked.acknowledged_by = actor
        locked.acknowledged_at = now
        locked.acknowledgement_note = note
        locked.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "acknowledgement_note"])
        Notification.objects.filter(alert=locked, user=actor, read_at__isnull=True).update(read_at=now)
    return locked


def _when(moment) -> str:
    if moment is None:
        return "?"
    return local_datetime(moment)


def notification_mark_read(*, alert: Alert, user) -> int:
    """Mark the user's notification of ``alert`` read (opening the alert's page); how many rows changed."""
    return Notification.objects.filter(alert=alert, user=user, read_at__isnull=True).update(read_at=timezone.now())
