"""Export jobs in the admin: read-only, and a scoped staff user sees only the jobs of
users inside their subtree."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from reports.models import ExportJob

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def url(action, *args):
    return reverse(f"admin:reports_exportjob_{action}", args=args)


@pytest.fixture
def jobs(tree, make_user):
    palu, sigi = make_user("kab7271", tree["palu"]), make_user("kab7210", tree["sigi"])
    return {
        "palu": ExportJob.objects.create(user=palu, report="stock-status", format="csv"),
        "sigi": ExportJob.objects.create(user=sigi, report="stock-status", format="xlsx"),
        "palu_user": palu,
    }


def test_a_district_admin_sees_the_jobs_of_their_subtree_only_and_cannot_change_them(client, jobs, password):
    user = jobs["palu_user"]
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_exportjob", "change_exportjob"]))
    client.login(username=user.username, password=password)
    listed = list(client.get(url("changelist")).context["cl"].result_list)
    assert listed == [jobs["palu"]]
    assert client.get(url("change", jobs["sigi"].pk)).status_code in (302, 404)
    assert client.get(url("change", jobs["palu"].pk)).status_code == 200
    assert client.post(url("change", jobs["palu"].pk), {"status": "done"}).status_code == 403
    jobs["palu"].refresh_from_db()
    assert jobs["palu"].status == "queued"
    assert client.get(url("add")).status_code == 403


def test_a_superuser_sees_every_job(admin_client, jobs):
    listed = set(admin_client.get(url("changelist")).context["cl"].result_list)
    assert listed == {jobs["palu"], jobs["sigi"]}
