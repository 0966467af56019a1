"""Locations whose stock changed since their alerts were last computed.

``movement_post`` inserts one row per real location a posting touches (``INSERT …
ON CONFLICT DO NOTHING``: the first posting of a quiet period stamps the time, later
ones add nothing and lock nothing). The alert worker takes the rows older than the
debounce interval (``DELETE … RETURNING`` in the transaction that recomputes their
alerts), so a posting needs neither the broker nor the worker, and a worker that dies
mid-run leaves the rows for the next run.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LocationChange(models.Model):
    location = models.OneToOneField(
        "inventory.Location",
        verbose_name=_("location"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("first change at"), default=timezone.now)

    class Meta:
        verbose_name = _("location awaiting alert computation")
        verbose_name_plural = _("locations awaiting alert computation")
        indexes = [models.Index(fields=["changed_at"], name="locationchange_changed_at")]

    def __str__(self) -> str:
        return f"{self.location_id} since {self.changed_at:%Y-%m-%d %H:%M}"
