"""The field worker's page (PKB/PLKB): the clinics of their district at a glance.

Built for a cheap phone on a slow link: plain HTML and the project stylesheet, no
script, no chart; after the first visit only the HTML travels (the stylesheet is
cached), and ``tests/reports/test_field_page.py`` keeps a busy district's page under
100 KB.

Which district: ``?district=<code>`` (a district or a clinic the user can see; anything
else is the same 404 as every out-of-scope location), else the user's home location
when it is a district or a clinic. A user placed higher up (a province, the whole
country) first picks one of their districts from a list.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from inventory.models import Level
from inventory.selectors.scope import location_for_user, visible_locations
from reports.report_registry import scope_root
from reports.selectors.field import field_overview

AREA_LEVELS = (Level.DISTRICT, Level.CLINIC)


@login_required
@require_GET
def field_page(request):
    user = request.user
    scope_root(user)  # a user without a location sees no field page
    code = request.GET.get("district", "").strip()
    area = location_for_user(user, code) if code else user.location
    if area is None or area.level not in AREA_LEVELS:
        if code:  # a province or the country asked for by code: offer its districts
            districts = visible_locations(user).filter(level=Level.DISTRICT, path__startswith=area.path)
        else:
            districts = visible_locations(user).filter(level=Level.DISTRICT)
        return render(
            request,
            "reports/field.html",
            {"area": area, "districts": districts.order_by("name").only("code", "name")},
        )
    overview = field_overview(area, timezone.localdate())
    return render(request, "reports/field.html", {"area": area, "overview": overview})
