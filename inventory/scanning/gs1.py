"""GS1 barcodes on product packaging, parsed into GTIN, batch, expiry and serial.

Pure functions, no database. ``parse_gs1`` takes what a scanner or a phone camera
read and understands four shapes of the same data:

- a GS1 Digital Link URL: ``https://<any host>/<optional prefix>/01/<GTIN>/10/<lot>/21/<serial>?17=YYMMDD``
  (path segments percent-decoded one by one, so ``%2F`` stays inside a lot);
- an element string: ``01<14 digits>17<YYMMDD>10<lot><GS>21<serial>``, where a
  variable-length field (10, 21) ends at the GS separator or at the end of the text;
- the human-readable form printed under a barcode: ``(01)09506000134352(17)261231(10)ABC123``;
- a bare GTIN-8/12/13/14 (a plain EAN/UPC/ITF-14 symbol carries only the GTIN).

Scanners may put a symbology identifier in front (``]d2`` DataMatrix, ``]Q3`` QR,
``]C1`` GS1-128…; accepted in either case) and, in keyboard-wedge mode, send the
GS separator as ``\\x1d``, as the text ``<GS>``, ``{GS}``, ``^]`` or as ``␝``.

AIs other than 01, 10, 17 and 21 are skipped only when GS1 predefines their length
(00, 02, 11–16, 20, 31nn–36nn, 41n: no separator follows them, so their end is
known); any other AI might be variable-length, its end unknown, so it is an error.

Everything malformed raises ``GS1Error`` (HTTP 400) with a message a warehouse
clerk can act on; text with no GS1 structure at all raises its subclass
``NotGS1`` so that a caller trying several kinds of code can say so in its own words.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from django.utils.translation import gettext as _

from inventory.errors import AlokonError

GS = "\x1d"

#: what keyboard-wedge scanners send for the GS separator when they cannot type \x1d
_GS_SPELLINGS = re.compile(r"<GS>|\{GS\}|\^\]|\u241d", re.IGNORECASE)
_SYMBOLOGY_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
#: GS1 AI encodable character set 82 (GS1 General Specifications §7.11, figure 7.11-1)
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$")
_GTIN_LENGTHS = (8, 12, 13, 14)
_HRI_AI = re.compile(r"\((\d{2,4})\)")
_URL = re.compile(r"^https?://", re.IGNORECASE)


class GS1Error(AlokonError):
    """The scanned code is a malformed GS1 barcode."""

    http_status = 400
    code = "invalid_barcode"


class NotGS1(GS1Error):
    """The scanned text has no GS1 structure at all (random text, another kind of URL, empty)."""


@dataclass(frozen=True)
class GS1Data:
    gtin: str  # always 14 digits
    batch: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None


@dataclass(frozen=True)
class _Spec:
    ai_digits: int  # length of the AI itself
    length: int  # the data's fixed length, or its maximum when variable
    variable: bool = False


_NUMERIC_6 = _Spec(2, 6)
#: keyed by the AI's first two digits (GS1 General Specifications figure 7.8.5-2:
#: element strings with a predefined length, plus the two variable-length ones we read)
_AIS: dict[str, _Spec] = {
    "00": _Spec(2, 18),
    "01": _Spec(2, 14),
    "02": _Spec(2, 14),
    "10": _Spec(2, 20, variable=True),
    "11": _NUMERIC_6,
    "12": _NUMERIC_6,
    "13": _NUMERIC_6,
    "15": _NUMERIC_6,
    "16": _NUMERIC_6,
    "17": _NUMERIC_6,
    "20": _Spec(2, 2),
    "21": _Spec(2, 20, variable=True),
    **{str(prefix): _Spec(4, 6) for prefix in range(31, 37)},  # trade measures, 31nn–36nn
    "41": _Spec(3, 13),  # GLNs, 410–417
}


def parse_gs1(text: str, *, today: dt.date | None = None) -> GS1Data:
    """The GS1 data in ``text``; ``GS1Error`` if it is malformed, ``NotGS1`` if it is not GS1 at all.

    ``today`` anchors the century of two-digit years (tests pass it; default: today).
    """
    today = today or dt.date.today()
    body = (text or "").strip()
    prefixed = bool(_SYMBOLOGY_ID.match(body))
    body = without_symbology_identifier(body)
    if not body:
        raise NotGS1(_("The barcode is empty."))
    if _URL.match(body):
        fields = _digital_link_fields(body)
    elif body.startswith("("):
        fields = _hri_fields(body)
    elif body.isdigit() and len(body) in _GTIN_LENGTHS:
        fields = {"01": body}
    else:
        body = _GS_SPELLINGS.sub(GS, body)
        # Unmarked text is an element string only if it starts like one on a package or
        # a pallet label (a GTIN or an SSCC comes first); anything else typed into the
        # scan box is not ours to explain.
        if not (prefixed or GS in body or body[:2] in ("00", "01", "02")):
            raise NotGS1(_("This is not a GS1 barcode."))
        fields = _element_string_fields(body)
    return _build(fields, today)


def without_symbology_identifier(text: str) -> str:
    """``text`` without a leading ``]Xn`` (scanners add it when told to report the symbology)."""
    return text[3:].strip() if _SYMBOLOGY_ID.match(text) else text


def normalise_gtin(value: str) -> str:
    """``value`` (GTIN-8, -12, -13 or -14) as 14 digits, its check digit verified."""
    if not (value.isdigit() and value.isascii() and len(value) in _GTIN_LENGTHS):
        raise GS1Error(_("A GTIN has 8, 12, 13 or 14 digits; %(value)s does not.") % {"value": value})
    gtin = value.zfill(14)
    if not _check_digit_ok(gtin):
        raise GS1Error(_("The GTIN check digit is wrong."))
    return gtin


def _check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: weights 3, 1, 3, … from the right, the check digit excluded."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def expiry_date(value: str, *, today: dt.date) -> dt.date:
    """A GS1 YYMMDD date: DD=00 is the month's last day; the century per GS1 General Specifications §7.12."""
    if not (len(value) == 6 and value.isdigit() and value.isascii()):
        raise GS1Error(_("The expiry date %(value)s is not a valid YYMMDD date.") % {"value": value})
    yy, month, day = int(value[:2]), int(value[2:4]), int(value[4:])
    # §7.12: a year from 49 years back to 50 years ahead of this one; outside that
    # window the same two digits mean the next (or the previous) century.
    year = today.year - today.year % 100 + yy
    if year - today.year > 50:
        year -= 100
    elif today.year - year > 49:
        year += 100
    if not 1 <= month <= 12:
        raise GS1Error(_("The expiry date %(value)s is not a valid YYMMDD date.") % {"value": value})
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise GS1Error(_("The expiry date %(value)s is not a valid YYMMDD date.") % {"value": value}) from None


def _field(ai: str, value: str, fields: dict[str, str]) -> None:
    """Check one AI's value against its spec and record it (the same AI twice must agree)."""
    spec = _AIS.get(ai[:2])
    if spec is None or len(ai) != spec.ai_digits:
        raise GS1Error(_("The barcode has an application identifier this system does not read: %(ai)s.") % {"ai": ai})
    if spec.variable:
        if not value:
            raise GS1Error(_("AI %(ai)s is empty.") % {"ai": ai})
        if len(value) > spec.length:
            raise GS1Error(
                _("AI %(ai)s is longer than %(length)d characters (is a separator missing?).")
                % {"ai": ai, "length": spec.length}
            )
        if not _CSET82.match(value):
            raise GS1Error(_("AI %(ai)s contains characters a GS1 barcode cannot hold.") % {"ai": ai})
    elif not (len(value) == spec.length and value.isdigit() and value.isascii()):
        raise GS1Error(_("AI %(ai)s must be followed by %(length)d digits.") % {"ai": ai, "length": spec.length})
    if fields.setdefault(ai, value) != value:
        raise GS1Error(_("The barcode gives AI %(ai)s twice, with different values.") % {"ai": ai})


def _element_string_fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        if body[pos] == GS:  # a leading FNC1, or a separator after a fixed-length field: both harmless
            pos += 1
            continue
        spec = _AIS.get(body[pos : pos + 2])
        if spec is None:
            if pos == 0 and not body[:2].isdigit():
                raise NotGS1(_("This is not a GS1 barcode."))
            raise GS1Error(
                _("The barcode has an application identifier this system does not read: %(ai)s.")
                % {"ai": body[pos : pos + 2].replace(GS, "")}
            )
        ai_end = pos + spec.ai_digits
        ai = body[pos:ai_end]
        if spec.variable:
            end = body.find(GS, ai_end)
            end = len(body) if end == -1 else end
        else:
            end = ai_end + spec.length
        _field(ai, body[ai_end:end], fields)
        pos = end
    return fields


def _hri_fields(body: str) -> dict[str, str]:
    """``(01)…(17)…(10)…``: the text between one ``(AI)`` and the next is the value."""
    parts = _HRI_AI.split(body)
    if parts[0].strip():
        raise NotGS1(_("This is not a GS1 barcode."))
    if len(parts) == 1:
        raise NotGS1(_("This is not a GS1 barcode."))
    fields: dict[str, str] = {}
    for ai, value in zip(parts[1::2], parts[2::2], strict=True):
        # printed HRI often has spaces between the groups; no GS1 value contains one
        _field(ai, value.strip(), fields)
    return fields


#: key qualifiers allowed after the GTIN in a Digital Link path (22 and 235 are read and dropped)
_DL_QUALIFIERS = ("22", "10", "21", "235")


def _digital_link_fields(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    # split first, decode each segment after: %2F belongs to a value, not the path
    segments = [unquote(s) for s in parts.path.split("/")]
    while segments and segments[-1] == "":
        segments.pop()
    start = next(
        (
            i
            for i in range(len(segments) - 1)
            if segments[i] == "01" and segments[i + 1].isdigit() and len(segments[i + 1]) in _GTIN_LENGTHS
        ),
        None,
    )
    if not parts.netloc or start is None:
        raise NotGS1(_("This web address is not a GS1 Digital Link."))
    fields: dict[str, str] = {"01": segments[start + 1]}
    rest = segments[start + 2 :]
    qualifiers = dict(zip(rest[::2], rest[1::2], strict=False))
    if len(rest) % 2 or any(ai not in _DL_QUALIFIERS for ai in qualifiers):
        raise GS1Error(_("This GS1 Digital Link has an unexpected path after the GTIN."))
    for ai in ("10", "21"):
        if ai in qualifiers:
            _field(ai, qualifiers[ai], fields)
    # Data attributes travel in the query string; only the expiry (17) matters here.
    # Lot and serial belong in the path, but a query-string copy is read when the path has none.
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "17" or (key in ("10", "21") and key not in qualifiers):
            _field(key, value, fields)
    return fields


def _build(fields: dict[str, str], today: dt.date) -> GS1Data:
    if "01" not in fields:
        raise GS1Error(_("This barcode has no GTIN (AI 01)."))
    expiry = expiry_date(fields["17"], today=today) if "17" in fields else None
    return GS1Data(
        gtin=normalise_gtin(fields["01"]),
        batch=fields.get("10"),
        expiry=expiry,
        serial=fields.get("21"),
    )
