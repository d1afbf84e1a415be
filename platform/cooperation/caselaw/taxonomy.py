"""Fixed vocabularies: topics, chambers, kinds of guidance, languages, and the Rome Statute
articles (shipped as a data file with their English and French titles)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

DATA = Path(__file__).resolve().parent / "data"


class ItemKind(enum.StrEnum):
    EXPLAINER = "explainer"
    GUIDANCE = "guidance"


class ItemStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class GuidanceKind(enum.StrEnum):
    HOW_TO = "how_to"
    CHANNELS = "channels_formats"
    MODEL_FORM = "model_form"
    FAQ = "faq"
    ANNOUNCEMENT = "announcement"


class Language(enum.StrEnum):
    EN = "en"
    FR = "fr"


KIND_LABELS: dict[str, LazyString] = {
    ItemKind.EXPLAINER: _l("Case-law explainer"),
    ItemKind.GUIDANCE: _l("Guidance note"),
}

STATUS_LABELS: dict[str, LazyString] = {
    ItemStatus.DRAFT: _l("Draft"),
    ItemStatus.IN_REVIEW: _l("In review"),
    ItemStatus.PUBLISHED: _l("Published"),
}

GUIDANCE_KIND_LABELS: dict[str, LazyString] = {
    GuidanceKind.HOW_TO: _l("How-to guidance"),
    GuidanceKind.CHANNELS: _l("Channels and formats"),
    GuidanceKind.MODEL_FORM: _l("Model form"),
    GuidanceKind.FAQ: _l("Frequently asked questions"),
    GuidanceKind.ANNOUNCEMENT: _l("Announcement"),
}

LANGUAGE_LABELS: dict[str, str] = {Language.EN: "English", Language.FR: "Français"}

TOPIC_LABELS: dict[str, LazyString] = {
    "tracing": _l("Identification and tracing of assets"),
    "freezing": _l("Freezing of assets"),
    "seizure": _l("Seizure"),
    "forfeiture": _l("Forfeiture"),
    "reparations": _l("Reparations to victims"),
    "legal_aid": _l("Legal aid and indigence"),
    "arrest_surrender": _l("Arrest and surrender"),
    "travel": _l("Travel of persons subject to arrest warrants"),
    "non_cooperation": _l("Non-cooperation"),
    "national_procedures": _l("National procedures"),
}

CHAMBER_LABELS: dict[str, LazyString] = {
    "presidency": _l("Presidency"),
    "appeals": _l("Appeals Chamber"),
    "pre_trial_i": _l("Pre-Trial Chamber I"),
    "pre_trial_ii": _l("Pre-Trial Chamber II"),
    "pre_trial_iii": _l("Pre-Trial Chamber III"),
    "trial_i": _l("Trial Chamber I"),
    "trial_ii": _l("Trial Chamber II"),
    "trial_iii": _l("Trial Chamber III"),
    "trial_iv": _l("Trial Chamber IV"),
    "trial_v": _l("Trial Chamber V"),
    "trial_vi": _l("Trial Chamber VI"),
    "trial_vii": _l("Trial Chamber VII"),
    "trial_viii": _l("Trial Chamber VIII"),
    "trial_ix": _l("Trial Chamber IX"),
    "trial_x": _l("Trial Chamber X"),
}


@dataclass(frozen=True)
class Article:
    code: str
    part: int
    title_en: str
    title_fr: str

    def title(self, locale: str) -> str:
        return self.title_fr if locale == "fr" else self.title_en

    @property
    def sort_key(self) -> tuple[int, str]:
        # "93(1)(k)" sorts right after "93"; the number leads.
        number = "".join(ch for ch in self.code.split("(")[0] if ch.isdigit())
        return int(number), self.code


@cache
def articles() -> tuple[Article, ...]:
    raw = json.loads((DATA / "rome_statute_articles.json").read_text(encoding="utf-8"))
    found = [Article(a["code"], int(a["part"]), a["en"], a["fr"]) for a in raw["articles"]]
    return tuple(sorted(found, key=lambda a: a.sort_key))


def article_codes() -> set[str]:
    return {a.code for a in articles()}


def article_by_code(code: str) -> Article | None:
    return next((a for a in articles() if a.code == code), None)
