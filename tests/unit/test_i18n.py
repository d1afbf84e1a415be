"""The French catalogue is complete, correct in form and compiled: every string marked in the
code (Python, templates, plugins) has a reviewed French translation with the same placeholders,
and the committed .mo says exactly what the .po says. Re-extraction runs in-process with the
same babel.cfg as deploy/dev/i18n.sh, so a new untranslated string fails here with its text."""

from __future__ import annotations

import io
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "platform" / "cooperation" / "translations"
MAPPING = TRANSLATIONS / "babel.cfg"
LOCALES = ["fr"]

# Python %-format conversions (the only kind gettext/Flask-Babel and Jinja's newstyle gettext
# apply), including the literal %% which Jinja's newstyle formatting always interprets.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
                         r"(?P<conv>[diouxXeEfFgGcrsa%])|%")  # a stray % counts too

Key = tuple[str | None, str]  # (context, singular msgid)


@cache
def catalogue(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


def messages(cat: Catalog) -> list[Message]:
    return [m for m in cat if m.id]


def key_of(m: Message) -> Key:
    return (m.context, m.id[0] if isinstance(m.id, tuple | list) else m.id)


def placeholders(text: str) -> Counter[str]:
    return Counter(f"%({m['name']}){m['conv']}" if m["name"] is not None
                   else f"%{m['conv'] or '?'}" for m in PLACEHOLDER.finditer(text))


def forms(m: Message) -> list[tuple[str, str]]:
    """(msgid form, msgstr form) pairs: singular with form 0, plural with the other forms."""
    if not isinstance(m.id, tuple | list):
        return [(m.id, m.string)]
    singular, plural = m.id[0], m.id[1]
    return [(singular if i == 0 else plural, s) for i, s in enumerate(m.string)]


@cache
def extracted() -> dict[Key, bool]:
    """What a fresh extraction finds now: key -> whether the call is a plural (ngettext) one."""
    with MAPPING.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(MAPPING))
    found: dict[Key, bool] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=DEFAULT_KEYWORDS):
        plural = isinstance(message, tuple | list)
        key = (context, message[0] if plural else message)
        found[key] = found.get(key, False) or plural
    return found


def test_extraction_config_covers_the_code() -> None:
    found = extracted()
    files = {loc for m in messages(catalogue("fr")) for loc, _ in m.locations}
    # Python, core templates and plugin templates are all reached (lazy _l included).
    assert any(f.startswith("platform/") and f.endswith(".py") for f in files)
    assert any(f.startswith("templates/") for f in files)
    assert any(f.startswith("plugins/") for f in files)
    assert (None, "Sign in") in found  # template {{ _() }}
    assert (None, "E-mail address") in found  # _l() in a form


@pytest.mark.parametrize("locale", LOCALES)
def test_no_marked_string_is_missing_from_the_catalogue(locale: str) -> None:
    known = {key_of(m): isinstance(m.id, tuple | list) for m in messages(catalogue(locale))}
    missing = sorted((k for k in extracted() if k not in known), key=lambda k: (k[0] or "", k[1]))
    assert not missing, (f"{len(missing)} string(s) not in the {locale} catalogue; run "
                         f"`bash deploy/dev/i18n.sh` and translate them:\n"
                         + "\n".join(repr(k[1]) for k in missing))
    # A string that became ngettext must be re-translated with its plural forms.
    lost_plurals = sorted(k[1] for k, plural in extracted().items() if plural and not known[k])
    assert not lost_plurals, lost_plurals


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_and_reviewed(locale: str) -> None:
    cat = catalogue(locale)
    problems = []
    for m in messages(cat):
        strings = list(m.string) if isinstance(m.string, tuple | list) else [m.string]
        if m.fuzzy:
            problems.append(f"fuzzy: {m.id!r}")
        elif not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {m.id!r}")
        elif isinstance(m.id, tuple | list) and len(strings) != cat.num_plurals:
            problems.append(f"{len(strings)} plural forms instead of {cat.num_plurals}: {m.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_are_kept(locale: str) -> None:
    wrong = []
    for m in messages(catalogue(locale)):
        for source, translated in forms(m):
            # Untranslated entries are reported by the test above, and fall back to English.
            if translated and placeholders(source) != placeholders(translated):
                wrong.append(f"{source!r} -> {translated!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_placeholder_check_catches_mistakes() -> None:
    assert placeholders("%(n)d left of %(total)d, 100%%") == Counter(["%(n)d", "%(total)d", "%%"])
    assert placeholders("%(n)d restants") != placeholders("%(nb)d restants")
    assert placeholders("%(n)d restants") != placeholders("%(n)s restants")
    # A bare % would break Jinja's newstyle gettext, which always %-formats the translation.
    assert placeholders("100 %") != placeholders("100 percent")


@pytest.mark.parametrize("locale", LOCALES)
def test_french_catalogue_header(locale: str) -> None:
    cat = catalogue(locale)
    assert str(cat.locale) == locale
    assert cat.num_plurals == 2 and cat.plural_expr == "(n > 1)"
    assert cat.charset.lower() == "utf-8"


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_mo_matches_the_po(locale: str) -> None:
    mo_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), f"{mo_path} missing: run `bash deploy/dev/i18n.sh`"
    # Compile the .po in memory as `pybabel compile` does, then compare message by message
    # (content, not file times: a checkout sets every mtime to the same moment).
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(locale), use_fuzzy=False)
    buffer.seek(0)
    expected = read_mo(buffer)
    with mo_path.open("rb") as f:
        committed = read_mo(f)

    def table(cat: Catalog) -> dict[Key, object]:
        return {key_of(m): (tuple(m.string) if isinstance(m.string, tuple | list) else m.string)
                for m in cat if m.id}

    want, have = table(expected), table(committed)
    stale = sorted(k[1] for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    assert not stale, (f"{mo_path.name} is out of date for {len(stale)} message(s); run "
                       f"`bash deploy/dev/i18n.sh`:\n" + "\n".join(map(repr, stale[:50])))


def test_runtime_loader_reads_the_catalogue() -> None:
    from babel.support import Translations

    translations = Translations.load(str(TRANSLATIONS), ["fr"])
    assert translations.gettext("Sign in") == "Connexion"
    plurals = [m for m in messages(catalogue("fr")) if isinstance(m.id, tuple | list)]
    for m in plurals:  # French: 0 and 1 take the singular form, 2 and more the plural
        assert translations.ngettext(m.id[0], m.id[1], 1) == m.string[0]
        assert translations.ngettext(m.id[0], m.id[1], 0) == m.string[0]
        assert translations.ngettext(m.id[0], m.id[1], 2) == m.string[1]
