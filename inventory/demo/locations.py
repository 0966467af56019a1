"""The demo location tree: Nasional → Sulawesi Tengah → its 13 districts → 3–6 clinics each.

Districts come from ``data/sulteng_districts.csv`` (Kemendagri ``code``, BPS
``bps_code`` and name). Clinics are drawn from per-district lists of real
puskesmas/hospital names where known, with a random generator seeded by the
district code: the same district always gets the same clinics, names, codes and
coordinates, and adding a district never reshuffles the others.

Coordinates scatter clinics within a disc of ``SCATTER_RADIUS`` degrees around the
district's pole of inaccessibility (``data/kabkota_centroids_72.csv``), not around
its capital: every capital is coastal, so a scatter around it would put clinics in
the sea.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from inventory.models import ClinicKind, Level, Location

DATA_DIR = Path(__file__).resolve().parent / "data"

NATIONAL = ("00", "Nasional (BKKBN Pusat)")
PROVINCE = ("72", "Sulawesi Tengah (Perwakilan BKKBN Sulawesi Tengah)")

#: degrees; every pole of inaccessibility is at least 0.054° inside its border (see data/SOURCE.md)
SCATTER_RADIUS = 0.04

# Kemendagri code: (puskesmas, the first being in the capital; the district's RSUD).
# Puskesmas and hospital names that exist in each district, as far as known.
FACILITIES: dict[str, tuple[list[str], str]] = {
    "72.01": (["Luwuk", "Kampung Baru", "Simpong", "Kintom", "Batui", "Toili", "Pagimana", "Bunta"], "RSUD Luwuk"),
    "72.02": (["Kayamanya", "Kawua", "Mapane", "Tentena", "Pendolo", "Lage"], "RSUD Poso"),
    "72.03": (["Donggala", "Labuan", "Sindue", "Tambu", "Tompe", "Balaesang"], "RSUD Kabelota"),
    "72.04": (["Baolan", "Lalos", "Galang", "Dondo", "Ogotua", "Bilo"], "RSUD Mokopido"),
    "72.05": (["Biau", "Lakea", "Momunu", "Paleleh", "Bunobogu", "Tiloan"], "RSUD Mokoyurli"),
    "72.06": (["Bungku", "Bahodopi", "Wosu", "Lafeu", "Bahonsuai", "Ulunambo"], "RSUD Morowali"),
    "72.07": (["Salakan", "Totikum", "Liang", "Bulagi", "Buko", "Peling Tengah"], "RSUD Trikora Salakan"),
    "72.08": (["Parigi", "Sausu", "Ampibabo", "Kasimbar", "Tinombo", "Moutong", "Toribulu"], "RSUD Anuntaloko"),
    "72.09": (["Ampana", "Tojo", "Ulubongka", "Wakai", "Dolong", "Tete"], "RSUD Ampana"),
    "72.10": (["Biromaru", "Marawola", "Dolo", "Kaleke", "Palolo", "Kulawi", "Pakuli"], "RSUD Torabelo"),
    "72.11": (["Banggai", "Lipulalongo", "Bangkurung", "Labobo", "Bokan Kepulauan"], "RSUD Banggai Laut"),
    "72.12": (["Kolonodale", "Beteleme", "Tomata", "Baturube", "Mamosalato", "Tiu"], "RSUD Kolonodale"),
    "72.71": (
        ["Talise", "Kamonji", "Birobuli", "Singgani", "Bulili", "Kawatuna", "Tipo", "Pantoloan"],
        "RSUD Anutapura",
    ),
}

KLINIK_NAMES = [
    "Klinik Pratama Kasih Ibu",
    "Klinik Pratama Bhakti Husada",
    "Klinik Pratama Alkhairaat",
    "Klinik Pratama Muhammadiyah",
    "Klinik Pratama Sehat Sentosa",
    "Klinik Pratama Bhayangkara",
    "Klinik Pratama Permata Bunda",
]
MIDWIVES = [
    "Nurhayati",
    "Sri Wahyuni",
    "Hasnah",
    "Fatmawati",
    "Rahmawati",
    "Ni Made Sukerti",
    "Yuliana Tampubolon",
    "Siti Aisyah",
    "Marlina Lamasi",
    "Andi Nurjannah",
]


@dataclass(frozen=True)
class District:
    code: str
    bps_code: str
    name: str
    lat: float  # a point inside the district (pole of inaccessibility)
    lon: float


@dataclass(frozen=True)
class Clinic:
    code: str
    name: str
    kind: str
    lat: Decimal
    lon: Decimal
    district_code: str


def load_districts() -> list[District]:
    """The 13 districts in Kemendagri code order, each with its inside point."""
    with open(DATA_DIR / "kabkota_centroids_72.csv", newline="", encoding="utf-8") as f:
        inside = {row["kemendagri_code"]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(f)}
    with open(DATA_DIR / "sulteng_districts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    districts = []
    for row in sorted(rows, key=lambda r: r["code"]):
        lat, lon = inside[row["code"]]
        districts.append(District(code=row["code"], bps_code=row["bps_code"], name=row["name"], lat=lat, lon=lon))
    return districts


def plan_clinics(district: District) -> list[Clinic]:
    """3–6 clinics for ``district``: mostly puskesmas, sometimes a hospital, a clinic or a midwife."""
    rng = random.Random(f"alokon-demo-clinics-{district.code}")
    puskesmas, rsud = FACILITIES[district.code]
    count = rng.randint(3, 6)
    extras = []
    if rng.random() < 0.5:
        extras.append((rsud, ClinicKind.RS))
    if rng.random() < 0.5:
        extras.append((rng.choice(KLINIK_NAMES), ClinicKind.KLINIK))
    if rng.random() < 0.6:
        extras.append((f"TPMB Bidan {rng.choice(MIDWIVES)}", ClinicKind.TPMB))
    extras = extras[: count - 2]  # at least two puskesmas in every district
    names = [(f"Puskesmas {name}", ClinicKind.PUSKESMAS) for name in puskesmas[: count - len(extras)]] + extras
    clinics = []
    for i, (name, kind) in enumerate(names, start=1):
        # Uniform over the disc: radius ∝ sqrt(u).
        radius = SCATTER_RADIUS * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        lat = Decimal(f"{district.lat + radius * math.sin(angle):.6f}")
        lon = Decimal(f"{district.lon + radius * math.cos(angle):.6f}")
        clinics.append(Clinic(f"{district.code}-{i:03d}", name, str(kind), lat, lon, district.code))
    return clinics


def ensure_locations() -> dict[str, Location]:
    """Create the demo tree where missing (never overwrite an edited row); return it by code."""
    national, _ = Location.objects.get_or_create(
        code=NATIONAL[0], defaults={"name": NATIONAL[1], "level": Level.NATIONAL}
    )
    province, _ = Location.objects.get_or_create(
        code=PROVINCE[0], defaults={"name": PROVINCE[1], "level": Level.PROVINCE, "parent": national}
    )
    tree = {national.code: national, province.code: province}
    for district in load_districts():
        location, _ = Location.objects.get_or_create(
            code=district.code,
            defaults={
                "name": district.name,
                "bps_code": district.bps_code,
                "level": Level.DISTRICT,
                "parent": province,
                "latitude": Decimal(f"{district.lat:.6f}"),
                "longitude": Decimal(f"{district.lon:.6f}"),
            },
        )
        tree[location.code] = location
        for clinic in plan_clinics(district):
            tree[clinic.code], _ = Location.objects.get_or_create(
                code=clinic.code,
                defaults={
                    "name": clinic.name,
                    "level": Level.CLINIC,
                    "parent": location,
                    "clinic_kind": clinic.kind,
                    "latitude": clinic.lat,
                    "longitude": clinic.lon,
                },
            )
    return tree
