"""Reconciliation documents in the admin: they render, nobody edits them there, and a
scoped user sees only their subtree's."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from inventory.models import Discrepancy, Dispensing, MonthClose, ServiceFigure, StockCount
from tests.reports import scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

MODELS = (Discrepancy, StockCount, Dispensing, ServiceFigure, MonthClose)


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def history(stocked, make_user, lot):
    return scenario.build(stocked, make_user, lot)


def rows(response):
    return list(response.context["cl"].result_list)


def test_models_are_registered(history):
    assert set(MODELS) <= set(admin.site._registry)


@pytest.mark.parametrize("model", MODELS)
def test_pages_render_and_refuse_every_edit_even_to_a_superuser(admin_client, history, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    obj = model.objects.first()
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), {"note": "x"}).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_count_page_shows_its_lines(admin_client, history):
    response = admin_client.get(admin_url(StockCount, "change", history["palu_count"].pk))
    inline = response.context["inline_admin_formsets"][0]
    assert inline.formset.queryset.count() == 1


@pytest.fixture
def district_client(client, history, password):
    user = history["users"]["palu"]
    user.is_staff = True
    user.save()
    codenames = [f"view_{model._meta.model_name}" for model in MODELS]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.login(username=user.username, password=password)
    return client


def test_district_user_sees_only_their_subtree(district_client, history):
    shipments = history["shipments"]
    seen = {d.shipment_id for d in rows(district_client.get(admin_url(Discrepancy, "changelist")))}
    assert seen == {shipments[k].pk for k in "acdf"}  # not E (province → Sigi)
    counts = rows(district_client.get(admin_url(StockCount, "changelist")))
    assert [c.pk for c in counts] == [history["palu_count"].pk]
    assert [d.pk for d in rows(district_client.get(admin_url(Dispensing, "changelist")))] == [history["dispensing"].pk]
    assert len(rows(district_client.get(admin_url(ServiceFigure, "changelist")))) == 1
    assert len(rows(district_client.get(admin_url(MonthClose, "changelist")))) == 1

    # Sigi's documents are not found, whatever the id.
    assert district_client.get(admin_url(StockCount, "change", history["sigi_count"].pk)).status_code in (302, 404)
    e_short = history["e_short"]
    assert district_client.get(admin_url(Discrepancy, "change", e_short.pk)).status_code in (302, 404)
    assert district_client.get(admin_url(StockCount, "change", history["palu_count"].pk)).status_code == 200


def test_sigi_user_sees_no_palu_discrepancy(client, history, password):
    user = history["users"]["sigi"]
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_discrepancy"))
    client.login(username=user.username, password=password)
    seen = {d.shipment_id for d in rows(client.get(admin_url(Discrepancy, "changelist")))}
    assert seen == {history["shipments"]["e"].pk}
