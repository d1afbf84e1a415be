"""Bilingual text: English and French for every question, option and guidance note. When the
language asked for is missing, the other one is shown, marked, and never copied into the
missing field (so saving a form never turns a fallback into a "translation")."""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("en", "fr")


@dataclass(frozen=True)
class Localized:
    text: str
    lang: str  # the language of `text`
    fallback: bool  # True when `text` is in the other language

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


def pick(en: str, fr: str, locale: str) -> Localized:
    wanted, other = ("fr", "en") if str(locale).startswith("fr") else ("en", "fr")
    values = {"en": (en or "").strip(), "fr": (fr or "").strip()}
    if values[wanted]:
        return Localized(values[wanted], wanted, False)
    if values[other]:
        return Localized(values[other], other, True)
    return Localized("", wanted, False)


def field(obj: object, name: str, locale: str) -> Localized:
    return pick(getattr(obj, f"{name}_en", ""), getattr(obj, f"{name}_fr", ""), locale)
