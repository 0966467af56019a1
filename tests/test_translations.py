"""Bahasa Indonesia ships complete: every message the code marks for translation has
an Indonesian translation, none is fuzzy, and the compiled catalogue matches the .po."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

from alokon import embedded_db

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "alokon" / "locale" / "id" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_indonesian_catalogue_is_complete():
    po = polib.pofile(str(PO))
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert po.percent_translated() == 100


def test_compiled_catalogue_matches_the_po_file():
    po = {
        (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.pofile(str(PO))
        if not e.obsolete
    }
    mo = {
        (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.mofile(str(MO))
        if e.msgid
    }
    assert mo == po, "run `make messages` to recompile alokon/locale/id/LC_MESSAGES/django.mo"


def test_every_marked_string_is_in_the_catalogue(tmp_path):
    """Extract the messages afresh (Django's makemessages) and compare with what ships."""
    assert shutil.which("xgettext"), "GNU gettext (xgettext) is needed to check the catalogue"
    for name in ("alokon", "inventory", "reports", "manage.py"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(source, tmp_path / name)
    fresh = tmp_path / "alokon" / "locale" / "id" / "LC_MESSAGES" / "django.po"
    fresh.unlink()
    # The copy's settings must attach to this run's database server (ALOKON_DATA_DIR),
    # not start an embedded one of their own under tmp_path and leave it running.
    env = dict(
        os.environ,
        PYTHONPATH=str(tmp_path),
        DJANGO_SETTINGS_MODULE="alokon.test_settings",
        ALOKON_DATA_DIR=str(embedded_db.data_dir()),
    )
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "id", "--no-location", "--ignore=.venv/*"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = {(e.msgctxt, e.msgid) for e in polib.pofile(str(fresh))}
    shipped = {(e.msgctxt, e.msgid) for e in polib.pofile(str(PO)) if e.translated() and not e.obsolete}
    assert sorted(extracted - shipped, key=str) == []


@pytest.mark.parametrize(("language", "expected"), [("id", "Petugas gudang"), ("en", "Warehouse")])
def test_role_names_follow_the_language(language, expected):
    from alokon.models import Role

    with translation.override(language):
        assert str(Role.WAREHOUSE.label).startswith(expected)
