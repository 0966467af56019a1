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


def location_for_user(user, code: str) -> Location:
    """The real location ``code`` if the user may see it; otherwise ``Http404``."""
    try:
        return visible_locations(user).get(code=code)
    except Location.DoesNotExist:
        raise Http404(_("Location %(code)s was not found.") % {"code": code}) from None


def user_can_see(user, location: Location) -> bool:
    return visible_locations(user).filter(pk=location.pk).exists()
