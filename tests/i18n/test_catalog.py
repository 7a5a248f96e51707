"""The Turkish catalog is complete and honest: every marked text of the code is in it, translated (not empty,
not fuzzy, not the English copied over), with the same placeholders and markup, and the compiled .mo the
app reads says the same as the .po translators edit."""
from __future__ import annotations

import gettext
import re

import pytest
from babel.messages.pofile import read_po

from tests.support.pseudo import ROOT, extract_messages

PO = ROOT / "plugin/translations/tr/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
# The same in both languages by nature (names, codes); each one is a reason, not a shortcut.
SAME_IN_TURKISH = {
    "API", "JSON", "CSV", "LTI", "xAPI", "Open Badges", "URL", "ID", "OpenAPI", "LRS", "Tinker", "%(n)s", "%(num)s",
    "E-mail", "Token", "Webhooks", "Webhook",
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{[\w.]*\}")
TAG = re.compile(r"</?([a-zA-Z][\w-]*)")


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as handle:
        return read_po(handle, locale="tr")


def _key(message_id) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _messages(catalog):
    return [m for m in catalog if m.id]


def test_the_catalog_has_every_text_the_code_marks(catalog):
    in_code = {_key(message) for message, _context in extract_messages()}
    in_catalog = {_key(m.id) for m in _messages(catalog)}
    missing, stale = sorted(in_code - in_catalog), sorted(in_catalog - in_code)
    assert not missing and not stale, (
        f"run `make translations`: {len(missing)} marked texts are not in the Turkish catalog "
        f"{missing[:20]}, {len(stale)} catalog entries are no longer used {stale[:20]}")


def test_every_turkish_entry_is_a_real_translation(catalog):
    problems = []
    for m in _messages(catalog):
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        if m.fuzzy:
            problems.append(f"fuzzy: {_key(m.id)!r}")
        if not all(form and form.strip() for form in forms):
            problems.append(f"empty: {_key(m.id)!r}")
            continue
        words = re.search("[A-Za-z]", PLACEHOLDER.sub("", _key(m.id)))  # "%(name)s (%(course)s)" has none to translate
        if any(form == ident for form, ident in zip(forms, ids)) and _key(m.id) not in SAME_IN_TURKISH and words:
            problems.append(f"English copied: {_key(m.id)!r}")
        for form in forms:
            if sorted(set(PLACEHOLDER.findall(form))) != sorted(set().union(*(PLACEHOLDER.findall(i) for i in ids))):
                problems.append(f"placeholders differ: {_key(m.id)!r} -> {form!r}")
            if sorted(TAG.findall(form)) != sorted(TAG.findall(ids[0])):
                problems.append(f"markup differs: {_key(m.id)!r} -> {form!r}")
    assert not problems, "\n".join(problems)


def test_the_compiled_catalog_matches_the_one_translators_edit(catalog):
    with open(MO, "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for m in _messages(catalog):
        if isinstance(m.id, tuple):
            got = tuple(compiled.ngettext(m.id[0], m.id[1], n) for n in (1, 2))
            want = (m.string[0], m.string[1])
        else:
            got = compiled.pgettext(m.context, m.id) if m.context else compiled.gettext(m.id)
            want = m.string
        if got != want:
            stale.append(_key(m.id))
    assert not stale, f"run `make translations` (the .mo is older than the .po): {stale[:20]}"


def test_the_checks_catch_a_bad_entry():
    """The placeholder and markup checks themselves."""
    assert PLACEHOLDER.findall("%(points)s puan, {name}") == ["%(points)s", "{name}"]
    assert sorted(TAG.findall("<strong>%(n)s</strong> deneme")) == ["strong", "strong"]
