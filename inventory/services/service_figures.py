"""Monthly service figures (active and new users per method) and the district's month close.

Each clinic reports, per month and method, its active users (*peserta KB aktif*)
and new users (*peserta KB baru*); they feed the dropout-risk alerts.

- Until the district closes the month a figure is edited in place (who recorded it
  and when are updated with it).
- ``month_close`` makes the month's figures of every clinic of the district final.
  After that, a change is a correction: the current row stops being current (a
  database trigger keeps it as it was from then on) and a new current row, marked
  as a correction, points at the one it replaces. A correction needs a note that
  says why. A method whose figures do not change gets no new row.

Who may enter figures: the clinic's own staff, and district, province or manager
users whose subtree holds the clinic (they often type the figures in for small
clinics that report on paper); field workers only read them. Who may close a
month: warehouse staff (or head) of the district itself, or a manager whose
subtree holds it.

Concurrency: setting figures and closing a month both lock the district's row
(``FOR NO KEY UPDATE``, which does not block rows that merely reference it), so a
close and an edit of the same district happen one after the other: an edit either
lands before the close, in place, or after it, as a correction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alokon.models import Role
from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed
from inventory.models import Level, Location, MonthClose, Product, ServiceFigure

#: more users of one method than any clinic has: a typing error
MAX_USERS = 1_000_000
#: how far back figures may be entered
MAX_AGE_MONTHS = 36


@dataclass
class FiguresResult:
    closed: bool
    created: list[ServiceFigure] = field(default_factory=list)  # new rows (first report or correction)
    updated: list[ServiceFigure] = field(default_factory=list)  # edited in place (month still open)
    unchanged: list[Product] = field(default_factory=list)


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def district_of(location: Location) -> Location | None:
    """The district ``location`` is in (itself, for a district)."""
    if location.level == Level.DISTRICT:
        return location
    return location.ancestors().filter(level=Level.DISTRICT).first()


def is_month_closed(location: Location, month: dt.date) -> bool:
    """Has the district of ``location`` closed ``month``?"""
    district = district_of(location)
    return district is not None and MonthClose.objects.filter(location=district, month=first_of_month(month)).exists()


def can_enter_figures(user, location: Location) -> bool:
    """The clinic's staff, or district/province/manager users whose subtree holds the clinic."""
    if user.is_superuser:
        return True
    if user.location_id is None or user.role == Role.FIELD:
        return False
    if user.location_id == location.pk:
        return True
    return user.role in (Role.WAREHOUSE, Role.HEAD, Role.MANAGER, Role.ADMIN) and location.is_within(user.location)


def can_close_month(user, district: Location) -> bool:
    """Warehouse staff or head of the district itself, or a manager whose subtree holds it."""
    if user.is_superuser:
        return True
    if user.location_id is None:
        return False
    if user.role in (Role.WAREHOUSE, Role.HEAD):
        return user.location_id == district.pk
    return user.role in (Role.MANAGER, Role.ADMIN) and district.is_within(user.location)


def _check_month(month: dt.date, today: dt.date) -> None:
    if month > first_of_month(today):
        raise InvalidDocument(_("%(month)s has not started yet.") % {"month": f"{month:%Y-%m}"})
    if month < add_months(first_of_month(today), -MAX_AGE_MONTHS):
        raise InvalidDocument(
            _("%(month)s is too far back: figures can be entered for the last %(count)d months.")
            % {"month": f"{month:%Y-%m}", "count": MAX_AGE_MONTHS}
        )


def _validate_figures(figures: Mapping[Product, tuple[int, int]]) -> None:
    if not figures:
        raise InvalidDocument(_("Enter the figures of at least one method."))
    for product, values in figures.items():
        if not isinstance(values, tuple | list) or len(values) != 2:
            raise InvalidDocument(_("%(product)s: give active and new users.") % {"product": product.code})
        active, new = values
        for value in (active, new):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidDocument(_("%(product)s: users are counted in whole numbers.") % {"product": product.code})
            if value < 0:
                raise InvalidDocument(_("%(product)s: users cannot be negative.") % {"product": product.code})
            if value > MAX_USERS:
                raise InvalidDocument(
                    _("%(product)s: %(value)d users is more than %(max)d; check the figure.")
                    % {"product": product.code, "value": value, "max": MAX_USERS}
                )
        if new > active:
            raise InvalidDocument(
                _("%(product)s: new users (%(new)d) are also active users, so they cannot exceed them (%(active)d).")
                % {"product": product.code, "new": new, "active": active}
            )
        if not product.is_active:
            raise InvalidDocument(_("%(product)s is no longer in use.") % {"product": product.code})


def _lock_district(location: Location) -> Location:
    """Lock the row that serialises figures and closes of ``location``'s district (itself if it has none)."""
    district = district_of(location) or location
    return Location.objects.select_for_update(no_key=True).get(pk=district.pk)


def service_figures_set(
    *,
    location: Location,
    month: dt.date,
    figures: Mapping[Product, tuple[int, int]],
    actor,
    note: str = "",
) -> FiguresResult:
    """Record the active and new users of ``location`` in ``month``, per method (see the module docstring)."""
    month = first_of_month(month)
    if location.level != Level.CLINIC:
        raise InvalidDocument(
            _("Service figures are reported by clinics; %(location)s is not a clinic.") % {"location": location.name}
        )
    if not can_enter_figures(actor, location):
        raise NotAllowed(_("You may not enter the service figures of %(location)s.") % {"location": location.name})
    _check_month(month, timezone.localdate())
    _validate_figures(figures)
    note = note.strip()
    now = timezone.now()
    with transaction.atomic():
        district = _lock_district(location)
        closed = MonthClose.objects.filter(location=district, month=month).exists()
        current = {
            row.product_id: row for row in ServiceFigure.objects.filter(location=location, month=month, is_current=True)
        }
        result = FiguresResult(closed=closed)
        changes = []
        for product, (active, new) in sorted(figures.items(), key=lambda item: item[0].code):
            row = current.get(product.pk)
            if row is not None and (row.active_users, row.new_users) == (active, new):
                result.unchanged.append(product)
            else:
                changes.append((product, row, active, new))
        if closed and changes and not note:
            raise InvalidDocument(
                _("%(month)s is closed: a correction needs a note saying why the figures change.")
                % {"month": f"{month:%Y-%m}"}
            )
        for product, row, active, new in changes:
            if row is not None and not closed:
                row.active_users, row.new_users = active, new
                row.recorded_by, row.recorded_at = actor, now
                if note:
                    row.note = note
                row.save(update_fields=["active_users", "new_users", "recorded_by", "recorded_at", "note"])
                result.updated.append(row)
                continue
            if row is not None:
                # The trigger allows exactly this change to a current row; from now on it is history.
                row.is_current = False
                row.save(update_fields=["is_current"])
            result.created.append(
                ServiceFigure.objects.create(
                    location=location,
                    month=month,
                    product=product,
                    active_users=active,
                    new_users=new,
                    is_correction=closed,
                    replaces=row,
                    note=note,
                    recorded_by=actor,
                    recorded_at=now,
                )
            )
    return result


def month_close(*, district: Location, month: dt.date, actor) -> MonthClose:
    """Close ``month`` for ``district``: its clinics' service figures are final from now on."""
    month = first_of_month(month)
    if district.level != Level.DISTRICT:
        raise InvalidDocument(
            _("Months are closed by districts; %(location)s is not a district.") % {"location": district.name}
        )
    if not can_close_month(actor, district):
        raise NotAllowed(_("You may not close months for %(location)s.") % {"location": district.name})
    today = timezone.localdate()
    if month >= first_of_month(today):
        raise InvalidDocument(
            _("%(month)s has not ended yet; it can be closed from the first day of the next month.")
            % {"month": f"{month:%Y-%m}"}
        )
    with transaction.atomic():
        locked = _lock_district(district)
        existing = MonthClose.objects.filter(location=locked, month=month).select_related("closed_by").first()
        if existing is not None:
            raise _already_closed(locked, existing)
        try:
            with transaction.atomic():
                return MonthClose.objects.create(location=locked, month=month, closed_by=actor)
        except IntegrityError:  # pragma: no cover - the district row is locked
            raise DocumentConflict(_("%(month)s is already closed.") % {"month": f"{month:%Y-%m}"}) from None


def _already_closed(district: Location, closed: MonthClose) -> DocumentConflict:
    return DocumentConflict(
        _("%(month)s was already closed for %(location)s by %(user)s.")
        % {
            "month": f"{closed.month:%Y-%m}",
            "location": district.name,
            "user": closed.closed_by.display_name,
        }
    )


def figures_history(location: Location, month: dt.date):
    """Every row of ``location`` in ``month`` (current and replaced), oldest first per method."""
    return (
        ServiceFigure.objects.filter(location=location, month=first_of_month(month))
        .select_related("product", "recorded_by", "replaces")
        .order_by("product__code", "id")
    )
