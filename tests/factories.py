"""Factories for tests: a small location tree, products, lots and users.

The 8 BKKBN products and the virtual locations come from migration 0003; the
factories below build what each test needs around them.
"""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from alokon.models import Role, User
from inventory.models import Level, Location, Lot, Product

DEMO_PASSWORD = "test-password-123"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Lokasi {o.code}")
    level = Level.CLINIC
    parent = None


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Produk {o.code}")
    unit = "piece"
    method = "condom"
    cyp_factor = "0.008333"
    short_acting = True
    revisit_days = 30


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot
        django_get_or_create = ("product", "batch")

    product = factory.LazyFunction(lambda: Product.objects.get(code="KONDOM"))
    batch = factory.Sequence(lambda n: f"B{n:05d}")
    expiry = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=540))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.WAREHOUSE
    password = factory.PostGenerationMethodCall("set_password", DEMO_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        if create:
            obj.save()


def build_tree():
    """national 00 → province 72 → districts 72.71, 72.10 → two clinics each; and 73 beside 72."""
    national = LocationFactory(code="00", name="Nasional", level=Level.NATIONAL)
    prov = LocationFactory(code="72", name="Sulawesi Tengah", level=Level.PROVINCE, parent=national)
    palu = LocationFactory(code="72.71", name="Kota Palu", level=Level.DISTRICT, parent=prov)
    sigi = LocationFactory(code="72.10", name="Sigi", level=Level.DISTRICT, parent=prov)
    c1 = LocationFactory(code="72.71-001", name="Puskesmas Talise", parent=palu, clinic_kind="puskesmas")
    c2 = LocationFactory(code="72.71-002", name="Puskesmas Kamonji", parent=palu, clinic_kind="puskesmas")
    c3 = LocationFactory(code="72.10-001", name="Puskesmas Biromaru", parent=sigi, clinic_kind="puskesmas")
    other = LocationFactory(code="73", name="Sulawesi Selatan", level=Level.PROVINCE, parent=national)
    other_district = LocationFactory(code="73.71", name="Kota Makassar", level=Level.DISTRICT, parent=other)
    return {
        "national": national,
        "prov": prov,
        "palu": palu,
        "sigi": sigi,
        "c1": c1,
        "c2": c2,
        "c3": c3,
        "other": other,
        "other_district": other_district,
    }
