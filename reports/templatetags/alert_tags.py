"""``{% unread_alert_count as unread %}``: the header's alert badge.

A simple tag rather than a context processor, so the COUNT runs only where the
header is rendered for a signed-in user (not on every template, nor for the admin
or API), and settings need not list it.
"""

from __future__ import annotations

from django import template

from reports.selectors.alerts import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_alert_count(context) -> int:
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    return unread_count(user)
