"""The admin page that imports opening balances from a spreadsheet.

Upload → every row checked → either the bad rows listed (nothing posted) or a
preview of one movement per location → confirm → posted through
``inventory.services.opening.opening_balance_post`` in one transaction.

Between preview and confirm the checked rows wait in the session under a random
token, not in the page: a large file does not travel twice, and the token is used
once, so a double-clicked "Post" cannot post the file twice. The rows are checked
again when posting, since the database may have changed in between.

Posting needs the ``inventory.add_movement`` permission (the admin itself never
offers to add a movement; the permission means "may post stock movements").
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory.errors import AlokonError
from inventory.forms.opening_import import OpeningUploadForm, check_rows, opening_import_post

SESSION_KEY = "inventory_opening_import"
PERMISSION = "inventory.add_movement"


def _json_row(row: dict) -> dict:
    """A row as the session can store it (XLSX cells may be dates or numbers)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = value.date()
        out[key] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def opening_import_view(model_admin):
    def view(request):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": _("Import opening balances"),
            "form": None,
            "plan": None,
            "errors": None,
        }
        if request.method == "POST" and "token" in request.POST:
            return _confirm(request, model_admin, context)

        form = OpeningUploadForm(request.POST or None, request.FILES or None)
        context["form"] = form
        if request.method == "POST" and form.is_valid():
            plan = check_rows(form.rows, user=request.user)
            if plan.errors:
                context["errors"] = plan.errors
            else:
                token = secrets.token_urlsafe(16)
                request.session[SESSION_KEY] = {
                    "token": token,
                    "rows": [_json_row(r) for r in form.rows],
                    "business_date": form.cleaned_data["business_date"].isoformat(),
                    "file_name": form.cleaned_data["file"].name,
                }
                context.update(
                    plan=plan,
                    token=token,
                    business_date=form.cleaned_data["business_date"],
                    file_name=form.cleaned_data["file"].name,
                )
        return TemplateResponse(request, "admin/inventory/opening_import.html", context)

    return view


def _confirm(request, model_admin, context):
    pending = request.session.get(SESSION_KEY)
    if not pending or not secrets.compare_digest(pending["token"], request.POST["token"]):
        messages.error(request, _("This import has expired or was already posted. Upload the file again."))
        return HttpResponseRedirect(request.path)
    del request.session[SESSION_KEY]

    plan = check_rows(pending["rows"], user=request.user)
    context["form"] = OpeningUploadForm()
    if plan.errors:
        context["errors"] = plan.errors
        return TemplateResponse(request, "admin/inventory/opening_import.html", context)
    try:
        movements = opening_import_post(
            plan=plan,
            business_date=dt.date.fromisoformat(pending["business_date"]),
            actor=request.user,
            note=_("Opening balance imported from %(file)s") % {"file": pending["file_name"]},
        )
    except (AlokonError, ValidationError) as e:
        message = e.message if isinstance(e, AlokonError) else " ".join(e.messages)
        messages.error(request, _("Nothing was posted: %(error)s") % {"error": message})
        return TemplateResponse(request, "admin/inventory/opening_import.html", context)

    messages.success(
        request,
        ngettext(
            "Posted %(count)d opening-balance movement (%(lines)d lines).",
            "Posted %(count)d opening-balance movements (%(lines)d lines).",
            len(movements),
        )
        % {"count": len(movements), "lines": plan.line_count},
    )
    opts = model_admin.model._meta
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
