"""The scan page, ``/scan``: one text box, fed by a handheld scanner, the keyboard or the camera.

Every way in ends as the same POST of the text that was read, so the server
decides what it is (``resolve_scan``) and the page needs no JavaScript to work:
a keyboard-wedge scanner types the code and presses Enter; ``scan.js`` adds a
camera button that fills the box and submits it.

- a shipment the user may receive → its receiving page (``/s/<token>``);
  any other shipment they can see → its detail page;
- a product barcode → the product, batch and expiry it names;
- anything else → the message of the error, with its 4xx status.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from inventory.errors import AlokonError
from inventory.forms.shipments import ScanForm
from inventory.scanning.resolve import resolve_scan
from inventory.views.receive import can_receive


@login_required
def scan(request):
    form = ScanForm(request.POST or None)
    context = {"form": form, "result": None, "error": None}
    if request.method != "POST":
        return render(request, "inventory/scan.html", context)
    if not form.is_valid():
        return render(request, "inventory/scan.html", context, status=400)
    try:
        result = resolve_scan(form.cleaned_data["code"], user=request.user)
    except AlokonError as error:
        context["error"] = error.message
        return render(request, "inventory/scan.html", context, status=error.http_status)
    if result.type == "shipment":
        shipment = result.shipment
        if can_receive(request.user, shipment):
            return redirect("receive", token=shipment.token)
        return redirect("shipment-detail", number=shipment.number)
    context["result"] = result
    # An empty box, ready for the next scan.
    context["form"] = ScanForm()
    return render(request, "inventory/scan.html", context)
