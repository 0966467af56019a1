"""GS1 parsing on real-world strings: Digital Link URLs, element strings, printed HRI, and the malformed ones.

No database: ``parse_gs1`` is pure. ``today`` is pinned so that two-digit years
resolve the same way every year the suite runs.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from inventory.errors import AlokonError
from inventory.scanning.gs1 import GS1Data, GS1Error, NotGS1, expiry_date, normalise_gtin, parse_gs1

TODAY = dt.date(2025, 6, 15)
GTIN = "09506000134352"  # GS1's own example GTIN
GS = "\x1d"
EXAMPLE = GS1Data(gtin=GTIN, batch="ABC123", expiry=dt.date(2020, 12, 25))

# These tests read the messages in English; test_translations.py checks the Indonesian.
pytestmark = pytest.mark.usefixtures("english")


def parse(text: str) -> GS1Data:
    return parse_gs1(text, today=TODAY)


def error_of(text: str) -> GS1Error:
    with pytest.raises(GS1Error) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    "text",
    [
        # GS1 General Specifications' example, as printed under the barcode
        "(01)09506000134352(17)201225(10)ABC123",
        # HRI as some labels print it, with spaces between the groups
        "(01) 09506000134352 (17) 201225 (10) ABC123",
        # DataMatrix read with symbology identifiers on: the variable field last, no trailing GS
        "]d2010950600013435217201225" + "10ABC123",
        "]d2010950600013435217201225" + "10ABC123" + GS,  # with a trailing GS after all
        "]D2010950600013435217201225" + "10ABC123",  # upper-case identifier
        "]Q3010950600013435210ABC123" + GS + "17201225",  # QR: variable field first, ended by GS
        "]q3010950600013435210ABC123" + GS + "17201225",
        "]C1010950600013435210ABC123" + GS + "17201225",  # GS1-128
        "]c1010950600013435210ABC123" + GS + "17201225",
        "]e0010950600013435217201225" + "10ABC123",  # GS1 DataBar
        # keyboard-wedge scanners: no identifier, GS as a control char or spelled out
        "010950600013435210ABC123" + GS + "17201225",
        "010950600013435210ABC123<GS>17201225",
        "010950600013435210ABC123<gs>17201225",
        "010950600013435210ABC123{GS}17201225",
        "010950600013435210ABC123^]17201225",
        "010950600013435210ABC123\u241d17201225",
        GS + "010950600013435217201225" + "10ABC123",  # FNC1 sent as a leading GS
        "010950600013435217201225" + "10ABC123\r\n",  # Enter after the scan
        "0109506000134352" + GS + "17201225" + GS + "10ABC123",  # needless GS after fixed fields
        # GS1 Digital Link
        "https://id.gs1.org/01/09506000134352/10/ABC123?17=201225",
        "HTTPS://ID.GS1.ORG/01/09506000134352/10/ABC123?17=201225",  # QR alphanumeric mode is upper case
        "https://Brand.Example.com/01/09506000134352/10/ABC123?17=201225",
        "https://brand.example.com/products/en/01/09506000134352/10/ABC123/?linkType=gs1:pip&17=201225",
        "http://id.gs1.org/01/09506000134352/10/ABC123?17=201225#top",
        "https://id.gs1.org/01/09506000134352/22/2A/10/ABC123?17=201225",  # CPV qualifier dropped
        "https://id.gs1.org/01/09506000134352?17=201225&10=ABC123",  # lot only in the query
        "]Q1https://id.gs1.org/01/09506000134352/10/ABC123?17=201225",  # plain QR identifier before a URL
    ],
)
def test_the_same_data_in_every_shape(text):
    assert parse(text) == EXAMPLE


def test_serial_number_and_lot_with_a_separator_between():
    data = parse("]d20109506000134352" + "21SN-0001" + GS + "10L/42" + GS + "17261200")
    assert data == GS1Data(gtin=GTIN, batch="L/42", expiry=dt.date(2026, 12, 31), serial="SN-0001")


def test_digital_link_segments_are_decoded_one_by_one():
    data = parse("https://example.org/01/09506000134352/10/AB%2FC%2B1/21/S%2F9?17=270300&foo=bar")
    assert data == GS1Data(gtin=GTIN, batch="AB/C+1", expiry=dt.date(2027, 3, 31), serial="S/9")


def test_digital_link_without_lot_or_expiry():
    assert parse("https://id.gs1.org/01/09506000134352") == GS1Data(gtin=GTIN)


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("96385074", "00000096385074"),  # EAN-8
        ("036000291452", "00036000291452"),  # UPC-A
        ("4006381333931", "04006381333931"),  # EAN-13
        ("]E04006381333931", "04006381333931"),  # EAN-13 with its symbology identifier
        ("10614141000415", "10614141000415"),  # ITF-14 on a case
        ("https://id.gs1.org/01/4006381333931", "04006381333931"),  # GTIN-13 in a Digital Link
        ("(01)00036000291452", "00036000291452"),
    ],
)
def test_shorter_gtins_are_padded_to_14_digits(text, gtin):
    assert parse(text).gtin == gtin


@pytest.mark.parametrize(
    "text",
    [
        # AIs with a predefined length are skipped: best before (15), production date (11), SSCC (00)
        "010950600013435211250101" + "15261130" + "17201225" + "10ABC123",
        "(01)09506000134352(11)250101(17)201225(10)ABC123",
        "00195060001000000010" + "0109506000134352" + "17201225" + "10ABC123",
        "(01)09506000134352(3103)000189(17)201225(10)ABC123",  # net weight, a 4-digit AI
        "0109506000134352" + "3103000189" + "4109501101020917" + "17201225" + "10ABC123",  # and a GLN (410)
    ],
)
def test_predefined_length_ais_are_skipped(text):
    assert parse(text) == EXAMPLE


@pytest.mark.parametrize(
    ("yymmdd", "expected"),
    [
        ("261231", dt.date(2026, 12, 31)),
        ("260200", dt.date(2026, 2, 28)),  # DD=00: the month's last day
        ("280200", dt.date(2028, 2, 29)),  # leap year
        ("260400", dt.date(2026, 4, 30)),
        ("751231", dt.date(2075, 12, 31)),  # 50 years ahead: this century
        ("760101", dt.date(1976, 1, 1)),  # 51 years ahead: the previous century
        ("991231", dt.date(1999, 12, 31)),
        ("760229", dt.date(1976, 2, 29)),  # leap day checked in the century it resolved to
    ],
)
def test_expiry_dates(yymmdd, expected):
    assert parse(f"010950600013435217{yymmdd}").expiry == expected


@pytest.mark.parametrize(
    ("today", "yymmdd", "expected"),
    [
        (dt.date(2080, 1, 1), "300101", dt.date(2130, 1, 1)),  # 50 years back: the next century
        (dt.date(2080, 1, 1), "310101", dt.date(2031, 1, 1)),  # 49 years back: this century
        (dt.date(2099, 12, 31), "010101", dt.date(2101, 1, 1)),
        (dt.date(2001, 1, 1), "990101", dt.date(1999, 1, 1)),
    ],
)
def test_century_per_gs1_general_specifications(today, yymmdd, expected):
    assert expiry_date(yymmdd, today=today) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(01)09506000134353(17)201225(10)ABC123", "The GTIN check digit is wrong."),
        ("]d20109506000134353" + "10ABC123", "The GTIN check digit is wrong."),
        ("https://id.gs1.org/01/09506000134353/10/ABC123", "The GTIN check digit is wrong."),
        ("4006381333932", "The GTIN check digit is wrong."),
        ("]d2010950600013435", "AI 01 must be followed by 14 digits."),  # truncated AI 01
        ("(01)0950600013435(10)ABC123", "AI 01 must be followed by 14 digits."),
        ("(01)095060001343521(10)ABC123", "AI 01 must be followed by 14 digits."),
        ("010950600013435", "AI 01 must be followed by 14 digits."),
        ("01095060001343AB10ABC123", "AI 01 must be followed by 14 digits."),
        ("0109506000134352" + "17201325", "The expiry date 201325 is not a valid YYMMDD date."),  # month 13
        ("0109506000134352" + "17200025", "The expiry date 200025 is not a valid YYMMDD date."),  # month 00
        ("0109506000134352" + "17260431", "The expiry date 260431 is not a valid YYMMDD date."),  # 31 April
        ("0109506000134352" + "17270229", "The expiry date 270229 is not a valid YYMMDD date."),  # not a leap year
        ("0109506000134352" + "172612", "AI 17 must be followed by 6 digits."),  # truncated date
        ("https://id.gs1.org/01/09506000134352?17=261331", "The expiry date 261331 is not a valid YYMMDD date."),
        ("https://id.gs1.org/01/09506000134352?17=2612", "AI 17 must be followed by 6 digits."),
        ("]d21726123110ABC123", "This barcode has no GTIN (AI 01)."),
        ("(17)261231(10)ABC123", "This barcode has no GTIN (AI 01)."),
        ("00195060001000000010", "This barcode has no GTIN (AI 01)."),  # an SSCC alone is a pallet, not a product
        ("0109506000134352" + "10" + "A" * 21, "AI 10 is longer than 20 characters (is a separator missing?)."),
        ("0109506000134352" + "10" + GS + "17261231", "AI 10 is empty."),
        ("0109506000134352" + "10AB C", "AI 10 contains characters a GS1 barcode cannot hold."),
        ("0109506000134352" + "10ÄBC", "AI 10 contains characters a GS1 barcode cannot hold."),
        ("0109506000134352" + "21" + GS, "AI 21 is empty."),
        (
            "0109506000134352" + "10ABC" + GS + "10XYZ",
            "The barcode gives AI 10 twice, with different values.",
        ),
        (
            "https://id.gs1.org/01/09506000134352/10",
            "This GS1 Digital Link has an unexpected path after the GTIN.",
        ),
        (
            "https://id.gs1.org/01/09506000134352/99/x",
            "This GS1 Digital Link has an unexpected path after the GTIN.",
        ),
    ],
)
def test_malformed_gs1(text, message):
    error = error_of(text)
    assert not isinstance(error, NotGS1)
    assert error.message == message


@pytest.mark.parametrize(
    ("text", "ai"),
    [
        ("0109506000134352" + "30" + "100", "30"),  # count: variable length, its end unknown
        ("(01)09506000134352(240)ABC", "240"),
        ("(01)09506000134352(7003)2512311200", "7003"),
        ("]d20109506000134352" + "9912", "99"),
        ("(01)09506000134352(31)000189", "31"),  # a 4-digit AI cut short
    ],
)
def test_unknown_variable_length_ai_is_an_error(text, ai):
    assert error_of(text).message == (f"The barcode has an application identifier this system does not read: {ai}.")


def test_the_same_ai_twice_with_the_same_value_is_fine():
    assert parse("0109506000134352" + "10ABC123" + GS + "0109506000134352" + "17201225") == EXAMPLE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\r\n",
        "]d2",
        "hello world",
        "]Q1hello",
        "SBBK-72-2025-000001",
        "12345",  # a typed number that does not start like a GS1 string
        "https://example.com/about",
        "https://news.example.com/2024/01/15/story",  # "01" in a path is not enough
        "https://alokon.example/s/AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "ftp://id.gs1.org/01/09506000134352",
        "(hello)",
        "<script>alert(1)</script>",
    ],
)
def test_text_that_is_not_gs1_at_all(text):
    with pytest.raises(NotGS1):
        parse(text)


def test_errors_are_400s_for_the_api():
    error = error_of("(01)09506000134353")
    assert isinstance(error, AlokonError)
    assert (error.http_status, error.code) == (400, "invalid_barcode")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("96385074", "00000096385074"), ("036000291452", "00036000291452"), ("09506000134352", GTIN)],
)
def test_normalise_gtin(value, expected):
    assert normalise_gtin(value) == expected


@pytest.mark.parametrize("value", ["", "1234567", "12345678901", "095060001343521", "9506000134352x", "٠٠٠٠٠٠٠٠"])
def test_normalise_gtin_refuses_other_lengths(value):
    with pytest.raises(GS1Error, match="A GTIN has 8, 12, 13 or 14 digits"):
        normalise_gtin(value)


def test_very_long_input_is_a_clean_error():
    with pytest.raises(GS1Error):
        parse("01" + "9" * 5000)
    with pytest.raises(GS1Error):
        parse("https://id.gs1.org/01/09506000134352/10/" + "A" * 5000)


def test_random_splices_of_real_pieces_only_ever_raise_gs1_error():
    """Whatever a damaged label or a confused scanner sends, the answer is a GS1Error (a 400), never a crash."""
    pieces = [
        "01", GTIN, "10", "17", "21", "(", ")", GS, "<GS>", "https://a.example/", "/", "01/", "%2F", "%", "?17=",
        "&", "261231", "ABC", "]d2", "]Q3", "3103", "41", "00", "9", "é", " ", "%C3%28", "\uff10", "\x00",
    ]  # fmt: skip
    rng = random.Random(20250615)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        try:
            data = parse(text)
        except GS1Error:
            continue
        assert len(data.gtin) == 14 and data.gtin.isdigit()


def test_messages_speak_indonesian_by_default():
    from django.utils import translation

    with translation.override("id"), pytest.raises(GS1Error) as excinfo:
        parse_gs1("(01)09506000134353(17)261231(10)ABC")
    assert str(excinfo.value) == "Digit pemeriksa GTIN salah."
