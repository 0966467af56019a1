"""Shipment tokens and QR images, checked with a real decoder (zxing-cpp) rather than
by comparing against qrcode's own module matrix: a PNG that only we can read is no use."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import png
import pytest

from inventory.qr import new_shipment_token, qr_png, qr_svg, shipment_url
from tests.decoding import decode_png

SVG_NS = "{http://www.w3.org/2000/svg}"


def test_new_tokens_are_unique_urlsafe_and_carry_192_bits():
    tokens = [new_shipment_token() for _ in range(1000)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token), token
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 24


def test_shipment_url_uses_site_url(settings):
    settings.SITE_URL = "https://example.org"
    token = new_shipment_token()
    assert shipment_url(token) == f"https://example.org/s/{token}"


def test_png_round_trips_a_shipment_url_through_a_real_decoder(settings):
    settings.SITE_URL = "https://alokon.example.go.id"
    url = shipment_url(new_shipment_token())
    data = qr_png(url)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_png(data) == [url]


def test_png_box_size_sets_pixels_per_module():
    small, large = (png.Reader(bytes=qr_png("SBBK-72-2026-000001", box_size=n)).read()[0] for n in (2, 8))
    assert large == small * 4  # width includes the 4-module border on both sides
    assert decode_png(qr_png("SBBK-72-2026-000001", box_size=2)) == ["SBBK-72-2026-000001"]


@pytest.mark.parametrize("box_size", [0, -1])
def test_png_refuses_an_empty_box(box_size):
    with pytest.raises(ValueError):
        qr_png("x", box_size=box_size)


def test_svg_is_a_scalable_standalone_document():
    text = qr_svg(shipment_url(new_shipment_token()))
    root = ET.fromstring(text)
    assert root.tag == f"{SVG_NS}svg"
    min_x, min_y, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (min_x, min_y) == (0, 0) and width == height > 0
    # one path holds every dark module; no id, so several waybills can share a page
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1 and paths[0].attrib["d"] and "id" not in paths[0].attrib
