"""Who may see what: a user sees their home location's subtree, and nothing else.

Every view, API endpoint, export and admin page goes through these functions, so
"out of scope" is decided in one place and always looks like "not found" (404):
telling a user that a location exists but is not theirs would leak the tree.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from inventory.models import Location


def is_unscoped(user) -> bool:
    """A superuser without a home location sees the whole country (and the virtual locations)."""
    return user.is_superuser and getattr(user, "location_id", None) is None


def visible_locations(user):
    """Real locations the user may see (their home location's subtree)."""
    qs = Location.objects.real()
    if not user.is_authenticated:
        return qs.none()
    root = getattr(user, "location", None)
    if root is None:
        return qs if user.is_superuser else qs.none()
    return qs.subtree(root)


def not_found_message(code: str) -> str:
    """What a user is told about a location code outside their subtree (or nowhere)."""
    return _("Location %(code)s was not found.") % {"code": code}


def location_for_user(user, code: str) -> Location:
    """The real location ``code`` if the user may see it; otherwise ``Http404``."""
    try:
        return visible_locations(user).get(code=code)
    except Location.DoesNotExist:
        raise Http404(not_found_message(code)) from None


def filter_location(user, value: str) -> Location | None:
    """A location code typed into a filter form: None when empty, the location when the
    user may see it; otherwise a form ``ValidationError`` (for a ``clean_<field>``)."""
    from django.core.exceptions import ValidationError

    code = (value or "").strip()
    if not code:
        return None
    location = visible_locations(user).filter(code=code).first()
    if location is None:
        raise ValidationError(not_found_message(code))
    return location


def user_can_see(user, location: Location) -> bool:
    return visible_locations(user).filter(pk=location.pk).exists()
