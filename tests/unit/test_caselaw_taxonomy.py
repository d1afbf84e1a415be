"""The shipped vocabularies: the Rome Statute article list (Part 9 complete, plus the articles on
assets, reparations and the Assembly), topics and chambers, and the version diff."""

from __future__ import annotations

import json

from cooperation.caselaw import taxonomy
from cooperation.caselaw.taxonomy import articles


def test_article_list_covers_part_9_and_the_asset_articles() -> None:
    codes = [a.code for a in articles()]
    for number in range(86, 103):
        assert str(number) in codes
    for code in ("57(3)(e)", "75", "77", "93(1)(k)", "109", "112"):
        assert code in codes
    assert len(codes) == len(set(codes))
    # Ordered by article number, 93(1)(k) right after 93.
    assert codes.index("93(1)(k)") == codes.index("93") + 1
    assert codes[0] == "57(3)(e)" and codes[-1] == "112"
    assert all(a.title_en and a.title_fr for a in articles())
    assert taxonomy.article_by_code("93").title("fr") == "Autres formes de coopération"
    assert taxonomy.article_by_code("102").title("en") == "Use of terms"
    assert taxonomy.article_by_code("999") is None


def test_data_file_is_valid_json_with_sources() -> None:
    raw = json.loads((taxonomy.DATA / "rome_statute_articles.json").read_text(encoding="utf-8"))
    assert raw["_source"] and len(raw["articles"]) == len(articles())


def test_topics_cover_the_issue() -> None:
    for topic in ("tracing", "freezing", "seizure", "forfeiture", "reparations", "legal_aid",
                  "arrest_surrender", "non_cooperation"):
        assert topic in taxonomy.TOPIC_LABELS
    assert "appeals" in taxonomy.CHAMBER_LABELS and "pre_trial_ii" in taxonomy.CHAMBER_LABELS
    assert set(taxonomy.GUIDANCE_KIND_LABELS) == {"how_to", "channels_formats", "model_form", "faq", "announcement"}
