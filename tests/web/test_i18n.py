"""The English catalogue is complete and compiled; the UI switches language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.test import Client

LOCALE = Path(__file__).resolve().parents[2] / "src" / "l2c" / "locale" / "en" / "LC_MESSAGES"


def _po_entries() -> list[tuple[str, str, str]]:
    """(context, msgid, msgstr) of every entry, joined across continuation lines."""
    entries = []
    for block in LOCALE.joinpath("django.po").read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            # Every plural form has its own field, so a wrapped msgstr[1] never extends msgstr[0].
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            entries.append((fields.get("msgctxt", ""), fields["msgid"],
                            fields.get("msgstr", fields.get("msgstr[0]", ""))))
    return entries


def test_every_english_entry_is_translated_and_not_fuzzy():
    text = LOCALE.joinpath("django.po").read_text(encoding="utf-8")
    untranslated = [msgid for _context, msgid, msgstr in _po_entries() if not msgstr]

    assert untranslated == []
    assert "#, fuzzy" not in text


def test_compiled_catalogue_matches_the_source():
    with LOCALE.joinpath("django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)

    def unescape(value: str) -> str:
        return value.replace('\\"', '"').replace("\\n", "\n")

    for context, msgid, msgstr in _po_entries():
        msgid = unescape(msgid)
        translated = catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)
        assert translated == unescape(msgstr), msgid


def test_language_switch_changes_the_shell(org):
    client = Client()
    client.force_login(org["rep1"])

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = client.get("/").content.decode()

    assert "My work" in english and "我的工作台" not in english
    assert "我的工作台" in chinese
