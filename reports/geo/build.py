"""Rebuild the map's boundary files from the upstream files (see SOURCE.md).

    python -m reports.geo.build ../shared/data/geo

Run by a developer when the upstream files change, never at run time. It writes:

- ``alokon/static/alokon/geo/provinces.geojson``: the 38 provinces;
- ``alokon/static/alokon/geo/districts-<PP>.geojson``: the districts of each
  province (``PP`` = BPS province code after 2022), so a province's map downloads
  its own districts only. Sulawesi Tengah (72) comes from the more detailed
  ``sulawesi_tengah_kabkota.geojson``, the others from the national layer;
- ``reports/geo/features.csv``: one row per feature (level, BPS code, Kemendagri
  code, name, province, a point inside it, its file), read by
  ``reports.selectors.map_data`` to join locations to shapes and to place flows.

Each feature keeps its ``id`` (the BPS code, what the map joins on) and its name;
the geometry is copied as it is. A province's point is the inside point
(``kabkota_centroids.csv``: pole of inaccessibility) of its district nearest to the
centroid of the province's largest part: always inside the province, near its middle.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "alokon" / "static" / "alokon" / "geo"
INDEX = Path(__file__).resolve().parent / "features.csv"
DETAILED = {"72": "sulawesi_tengah_kabkota.geojson"}
COLUMNS = ["level", "code", "kemendagri_code", "name", "province_code", "lat", "lon", "file"]


def _ring_area_centroid(ring):
    """Signed area and centroid of one closed ring (shoelace)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    area /= 2
    if area == 0:
        return 0.0, ring[0][0], ring[0][1]
    return area, cx / (6 * area), cy / (6 * area)


def largest_part_centroid(geometry) -> tuple[float, float]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    best = max((_ring_area_centroid(polygon[0]) for polygon in polygons), key=lambda t: abs(t[0]))
    return best[1], best[2]


def _write(path: Path, features: list[dict]) -> int:
    slim = [
        {"type": "Feature", "id": f["id"], "properties": {"name": f["properties"]["name"]}, "geometry": f["geometry"]}
        for f in sorted(features, key=lambda f: f["id"])
    ]
    text = json.dumps({"type": "FeatureCollection", "features": slim}, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return len(text)


def build(source: Path) -> None:
    provinces = json.loads((source / "indonesia_provinces.geojson").read_text(encoding="utf-8"))["features"]
    districts = json.loads((source / "indonesia_kabkota.geojson").read_text(encoding="utf-8"))["features"]
    with open(source / "kabkota_centroids.csv", newline="", encoding="utf-8") as f:
        inside = {row["code"]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(f)}

    by_province: dict[str, list[dict]] = {}
    for feature in districts:
        by_province.setdefault(feature["properties"]["province_code_current"], []).append(feature)
    for province_code, name in DETAILED.items():
        detailed = json.loads((source / name).read_text(encoding="utf-8"))["features"]
        assert sorted(f["id"] for f in detailed) == sorted(f["id"] for f in by_province[province_code])
        by_province[province_code] = detailed

    rows = []
    STATIC.mkdir(parents=True, exist_ok=True)
    size = _write(STATIC / "provinces.geojson", provinces)
    print(f"provinces.geojson: {len(provinces)} features, {size:,} bytes")
    for feature in provinces:
        code = feature["id"]
        members = by_province[code]
        lon, lat = largest_part_centroid(feature["geometry"])
        nearest = min(members, key=lambda m: (inside[m["id"]][0] - lat) ** 2 + (inside[m["id"]][1] - lon) ** 2)
        point = inside[nearest["id"]]
        props = feature["properties"]
        rows.append(["province", code, props["kemendagri_code"], props["name"], code, *point, "provinces.geojson"])
        name = f"districts-{code}.geojson"
        size = _write(STATIC / name, members)
        print(f"{name}: {len(members)} features, {size:,} bytes")
        for member in members:
            props = member["properties"]
            kemendagri = props["kemendagri_code"]
            rows.append(["district", member["id"], kemendagri, props["name"], code, *inside[member["id"]], name])
    rows.sort(key=lambda r: (r[0] != "province", r[1]))
    with open(INDEX, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    print(f"{INDEX.name}: {len(rows)} rows")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the folder of the upstream files (shared/data/geo)")
    build(parser.parse_args(argv).source)


if __name__ == "__main__":
    main()
