"""What an alert says, in the reader's language, built from its kind and stored figures.

Alerts store numbers, not sentences (``Alert.figures``), so the inbox, the e-mail and
the API each say it in the language of whoever reads it. ``describe(alert)`` is the
one sentence; ``title(alert)`` the short heading.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from reports.models import Alert, AlertKind


def _number(value, places: int = 0) -> str:
    """A figure formatted for the current language (thousands separator), or "–"."""
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places == 0:
        number = number.quantize(Decimal(1))
    return formats.number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


def _date(value) -> str:
    if not value:
        return "–"
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def title(alert: Alert) -> str:
    """ "Below minimum · KONDOM · Puskesmas Talise"."""
    parts = [alert.get_kind_display()]
    if alert.product_id:
        parts.append(alert.product.code)
    parts.append(alert.location.name)
    return " · ".join(parts)


def describe(alert: Alert) -> str:
    """The alert as one sentence for its reader."""
    f = alert.figures or {}
    product = alert.product.name if alert.product_id else ""
    kind = alert.kind
    if kind == AlertKind.STOCKOUT:
        text = _("%(product)s is out of stock (average monthly consumption %(amc)s).") % {
            "product": product,
            "amc": _number(f.get("amc"), 1),
        }
        return _with_order(text, f)
    if kind in (AlertKind.EMERGENCY, AlertKind.LOW_STOCK):
        text = (
            _("%(product)s: %(soh)s in stock, %(mos)s months of stock, below the emergency order point of %(limit)s.")
            if kind == AlertKind.EMERGENCY
            else _("%(product)s: %(soh)s in stock, %(mos)s months of stock, below the minimum of %(limit)s.")
        ) % {
            "product": product,
            "soh": _number(f.get("soh")),
            "mos": _number(f.get("mos"), 1),
            "limit": _number(f.get("emergency_months") if kind == AlertKind.EMERGENCY else f.get("min_months"), 1),
        }
        return _with_order(text, f)
    if kind == AlertKind.OVERSTOCK:
        return _("%(product)s: %(soh)s in stock, %(mos)s months of stock, above the maximum of %(max)s.") % {
            "product": product,
            "soh": _number(f.get("soh")),
            "mos": _number(f.get("mos"), 1),
            "max": _number(f.get("max_months"), 1),
        }
    if kind == AlertKind.EXPIRY_RISK:
        lots = f.get("lots") or []
        batches = ", ".join(
            _("%(batch)s (%(at_risk)s of %(quantity)s, expires %(expiry)s)")
            % {
                "batch": lot.get("batch", "?"),
                "at_risk": _number(lot.get("at_risk")),
                "quantity": _number(lot.get("quantity")),
                "expiry": _date(lot.get("expiry")),
            }
            for lot in lots
        )
        return _("%(product)s: %(units)s units will expire before they can be used: %(lots)s.") % {
            "product": product,
            "units": _number(alert.quantity),
            "lots": batches or "–",
        }
    if kind == AlertKind.OVERDUE_SHIPMENT:
        shipments = f.get("shipments") or []
        listed = ", ".join(
            ngettext(
                "%(number)s from %(origin)s (%(quantity)s units, %(days)s day late)",
                "%(number)s from %(origin)s (%(quantity)s units, %(days)s days late)",
                int(s.get("days_overdue") or 0),
            )
            % {
                "number": s.get("number", "?"),
                "origin": s.get("origin", "?"),
                "quantity": _number(s.get("quantity")),
                "days": s.get("days_overdue", "?"),
            }
            for s in shipments
        )
        return _("%(product)s still in transit past the expected arrival: %(shipments)s.") % {
            "product": product,
            "shipments": listed or "–",
        }
    if kind == AlertKind.OPEN_DISCREPANCY:
        count = int(alert.quantity or len(f.get("discrepancies") or []))
        return ngettext(
            "%(product)s: %(count)d discrepancy is still open, the oldest for %(days)s days.",
            "%(product)s: %(count)d discrepancies are still open, the oldest for %(days)s days.",
            count,
        ) % {"product": product, "count": count, "days": f.get("oldest_days", "?")}
    if kind == AlertKind.LEDGER_MISMATCH:
        mismatches = f.get("mismatches") or []
        count = int(alert.quantity or len(mismatches))
        text = ngettext(
            "The nightly ledger check found %(count)d mismatch here.",
            "The nightly ledger check found %(count)d mismatches here.",
            count,
        ) % {"count": count}
        if mismatches:
            text += " " + "; ".join(str(m) for m in mismatches[:3])
        return text
    if kind == AlertKind.DROPOUT_RISK:
        users = int(f.get("users_at_risk") or alert.quantity or 0)
        if f.get("rule") == "falling_dispensing":
            months = f.get("months") or []
            return ngettext(
                "%(product)s: dispensing has stayed below %(share)s%% of what %(active)s active users need for "
                "%(months)d months; %(users)d user may have stopped.",
                "%(product)s: dispensing has stayed below %(share)s%% of what %(active)s active users need for "
                "%(months)d months; %(users)d users may have stopped.",
                users,
            ) % {
                "product": product,
                "share": _number(Decimal(str(f.get("share") or 0)) * 100),
                "active": _number(f.get("active_users")),
                "months": len(months),
                "users": users,
            }
        text = ngettext(
            "%(product)s runs out in %(days)s days, before the next resupply (%(resupply)s): %(users)d of "
            "%(active)s active user is at risk of stopping.",
            "%(product)s runs out in %(days)s days, before the next resupply (%(resupply)s): %(users)d of "
            "%(active)s active users are at risk of stopping.",
            users,
        ) % {
            "product": product,
            "days": _number(f.get("stock_days")),
            "resupply": _date(f.get("next_resupply")) if f.get("next_resupply") else _("not planned"),
            "users": users,
            "active": _number(f.get("active_users")),
        }
        if f.get("also_falling"):
            text += " " + _("Dispensing has also been falling.")
        return text
    return alert.get_kind_display()


def _with_order(text: str, figures: dict) -> str:
    parts = [text]
    if figures.get("in_transit"):
        parts.append(_("%(units)s on the way.") % {"units": _number(figures["in_transit"])})
    if figures.get("suggested_order"):
        parts.append(_("Suggested order: %(units)s.") % {"units": _number(figures["suggested_order"])})
    return " ".join(parts)
