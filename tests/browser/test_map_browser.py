"""In a real browser with no way out: the distribution map of Sulawesi Tengah draws its
13 districts, the clinics' markers and the shipment lines from the project's own files
only, and a click on a district opens that district's map."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from alokon.models import Role
from inventory.demo.locations import ensure_locations
from inventory.models import Level, Location, Product
from inventory.selectors.stock import consumption_window
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory
from tests.reports.test_indicators import dispense, receive, ship

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Plotly attaches the figure to its element: what was drawn, by trace.
DRAWN = """() => {
    const gd = document.getElementById("map");
    const shapes = gd.data.filter(t => t.type === "choropleth").flatMap(t => t.locations);
    const clinics = gd.data.filter(t => t.type === "scattergeo" && t.customdata).flatMap(t => t.customdata);
    const lines = gd.data.filter(t => t.type === "scattergeo" && t.mode === "lines");
    return {shapes, clinics, lines: lines.length, dotted: lines.filter(t => t.line.dash === "dot").length};
}"""
# A spot inside the largest district's shape, at least 25 px from every marker (a click
# near a marker is the marker's): SVG hit-testing on the drawn path, in screen pixels.
FREE_SPOT = """() => {
    const area = p => { const b = p.getBoundingClientRect(); return b.width * b.height; };
    const path = [...document.querySelectorAll("#map path.choroplethlocation")].sort((a, b) => area(b) - area(a))[0];
    const marks = [...document.querySelectorAll("#map .scattergeo path.point")].map(p => {
        const b = p.getBoundingClientRect();
        return [b.x + b.width / 2, b.y + b.height / 2];
    });
    const box = path.getBoundingClientRect(), inverse = path.getScreenCTM().inverse();
    const point = path.ownerSVGElement.createSVGPoint();
    for (let y = box.top + 2; y < box.bottom; y += 3) {
        for (let x = box.left + 2; x < box.right; x += 3) {
            point.x = x; point.y = y;
            const clear = marks.every(([mx, my]) => Math.hypot(mx - x, my - y) > 25);
            if (clear && path.isPointInFill(point.matrixTransform(inverse))) return [x, y];
        }
    }
    return null;
}"""


def history():
    """The demo tree; the province supplies every district in the window (one still on the road),
    each district one clinic, and clinics hold and dispense different amounts."""
    tree = ensure_locations()
    today = timezone.localdate()
    w1, _end = consumption_window(today)
    pill = Product.objects.get(code="PIL-KOMB")
    lot = LotFactory(product=pill, batch="PK-MAP-B", expiry=today + dt.timedelta(days=900))
    province = tree["72"]
    opening_balance_post(location=province, lines=[(lot, 100_000)], business_date=w1 - dt.timedelta(days=5))
    root = Location.objects.get(code="00")
    from tests.factories import UserFactory

    clerk = UserFactory(username="root-map", location=None, is_superuser=True)
    districts = Location.objects.filter(level=Level.DISTRICT, parent=province).order_by("code")
    for i, district in enumerate(districts):
        shipment = ship(province, district, pill, 200 + 150 * i, w1 + dt.timedelta(days=3), clerk)
        if i == 0:
            continue  # on the road still
        receive(shipment, lot, 200 + 150 * i, w1 + dt.timedelta(days=4), clerk)
        clinic = district.children.order_by("code").first()
        to_clinic = ship(district, clinic, pill, 60 + 10 * i, w1 + dt.timedelta(days=6), clerk)
        receive(to_clinic, lot, 60 + 10 * i, w1 + dt.timedelta(days=6), clerk)
        dispense(clinic, lot, 5 * i, w1 + dt.timedelta(days=40))
    assert root.level == Level.NATIONAL
    return tree, w1, today


def test_the_province_map_draws_offline_and_a_click_opens_a_district(live_server, page, artifacts, make_user, password):
    tree, w1, today = history()
    make_user("kabid72", tree["72"], role=Role.MANAGER)
    clinics = Location.objects.filter(level=Level.CLINIC, path__startswith=tree["72"].path)
    assert clinics.count() > 13 and not clinics.filter(latitude=None).exists()

    outside = []

    def only_this_server(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:  # a CDN, a tile server, plotly's topojson: the map must not need any
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_server)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "kabid72")
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{live_server.url}/")

    query = f"product=PIL-KOMB&indicator=mos&from={w1.isoformat()}&to={today.isoformat()}"
    page.goto(f"{live_server.url}/reports/map/?{query}")
    page.wait_for_selector("#map[data-state=ready]", timeout=30_000)

    drawn = page.evaluate(DRAWN)
    bps = {d.bps_code for d in Location.objects.filter(level=Level.DISTRICT, parent=tree["72"])}
    assert len(bps) == 13 and sorted(drawn["shapes"]) == sorted(bps)
    assert page.locator("#map path.choroplethlocation").count() == 13  # SVG: one path per district
    assert sorted(drawn["clinics"]) == sorted(f"/locations/{c.code}/stock/" for c in clinics)
    flows = 13  # province → each district, one of them still in transit
    assert page.locator("#map .scattergeo path.point").count() == clinics.count() + flows
    assert drawn["lines"] >= 2 and drawn["dotted"] == 1
    # Each clinic's hover: the translated template filled in by the script.
    texts = page.evaluate(
        "() => document.getElementById('map').data.filter(t => t.type === 'scattergeo' && t.customdata)"
        ".flatMap(t => t.text)"
    )
    assert len(texts) == clinics.count() and not any("%(" in text for text in texts)
    for clinic in clinics.order_by("code")[:3]:
        assert sum(f"<b>{clinic.name}</b> ({clinic.code})" in text for text in texts) == 1
    assert "BPS-Statistics Indonesia / OCHA ROAP" in page.locator("#map").inner_text()  # attribution, on the map
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1  # fits a phone
    assert outside == []
    page.screenshot(path=str(artifacts / "map-72-districts-phone.png"), full_page=True)

    # A click on a district opens its own map.
    page.locator("#map").scroll_into_view_if_needed()
    page.locator("#map").screenshot(path=str(artifacts / "map-72-districts-canvas.png"))
    spot = page.evaluate(FREE_SPOT)
    assert spot is not None
    with page.expect_navigation():
        page.mouse.click(*spot)
    (code,) = parse_qs(urlsplit(page.url).query)["area"]
    district = Location.objects.get(code=code, level=Level.DISTRICT, parent=tree["72"])
    page.wait_for_selector("#map[data-state=ready]", timeout=30_000)
    drawn = page.evaluate(DRAWN)
    assert drawn["shapes"] == [district.bps_code]
    assert sorted(drawn["clinics"]) == sorted(f"/locations/{c.code}/stock/" for c in district.children.all())
    assert outside == []
    page.screenshot(path=str(artifacts / f"map-{code}-district-phone.png"), full_page=True)
    page.locator("#map").screenshot(path=str(artifacts / f"map-{code}-district-canvas.png"))
