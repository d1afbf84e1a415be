"""Full-text search on a fixed corpus, on SQLite FTS5 and PostgreSQL (the `backend` fixture):
the same queries return the same items, filters narrow them, titles and holdings rank above
bodies, snippets highlight matches with <mark> and escape everything else."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, text

from cooperation.caselaw import search, services
from cooperation.caselaw.search import SearchQuery
from cooperation.caselaw.taxonomy import ItemKind, Language
from cooperation.db import utcnow
from cooperation.extensions import db
from tests.functional.caselaw_support import ACTOR, draft, explainer, guidance, published, second_editor


@pytest.fixture
def corpus(app, users):  # type: ignore[no-untyped-def]
    editor, other = users["editor"], second_editor()
    made = {
        "title-hit": published(editor, other, "title-hit", explainer(
            "Reparations orders and forfeiture", holding="The Chamber ruled on costs.", body="Nothing else.",
            topics=("reparations", "forfeiture"), articles=("75",), chamber="trial_ii",
            decision_date=date(2017, 3, 24))),
        "body-hit": published(editor, other, "body-hit", explainer(
            "A decision on costs", holding="Costs of the proceedings.",
            body="Background mentions reparations once.", topics=("legal_aid",), articles=("100",),
            chamber="appeals", decision_date=date(2016, 2, 15))),
        "freezing-en": published(editor, other, "freezing-en", explainer(
            "Freezing assets without a link to the crime", holding="No link between crime and assets is required.",
            body="<b>Markup</b> & stuff in the body about freezing.", topics=("freezing",),
            articles=("57(3)(e)", "93(1)(k)"), chamber="appeals", decision_date=date(2016, 2, 15))),
        "travel-guidance": published(editor, other, "travel-guidance", guidance(
            "Reporting the travel of suspects", body="Tell the Court about planned travel at once.",
            topics=("travel", "arrest_surrender"), articles=("89",)), kind=ItemKind.GUIDANCE),
    }
    made["gel-fr"] = published(editor, other, "gel-fr", explainer(
        "Gel des avoirs sans lien avec le crime", holding="Aucun lien entre le crime et les avoirs n'est requis.",
        body="Les déplacements ne sont pas concernés.", topics=("freezing",), articles=("93(1)(k)",),
        chamber="appeals", decision_date=date(2016, 2, 15)), language=Language.FR,
        translation_of=made["freezing-en"])
    # Not visible: a draft and a scheduled item mentioning the same words.
    draft(editor, "draft-freezing", explainer("Draft about freezing and reparations"))
    scheduled = draft(editor, "scheduled-freezing", explainer("Scheduled freezing reparations"))
    services.submit_for_review(db.session, scheduled, user=editor, actor=ACTOR)
    services.approve(db.session, scheduled, user=other, actor=ACTOR, publish_at=utcnow() + timedelta(days=1))
    db.session.commit()
    return made


def _slugs(q: SearchQuery) -> list[str]:
    return [hit.item.slug for hit in search.search(db.session, q, utcnow()).hits]


def test_backend_matches_the_database(corpus, backend):
    expected = "postgresql-tsvector" if backend == "postgresql" else "sqlite-fts5"
    assert search.backend_for(db.session).name == expected


def test_queries_return_the_expected_items(corpus):
    assert set(_slugs(SearchQuery(text="freezing"))) == {"freezing-en"}
    assert set(_slugs(SearchQuery(text="travel suspects"))) == {"travel-guidance"}
    assert set(_slugs(SearchQuery(text="gel avoirs"))) == {"gel-fr"}
    assert set(_slugs(SearchQuery(text="reparations"))) == {"title-hit", "body-hit"}
    assert _slugs(SearchQuery(text="nonexistentword")) == []
    # Prefix matching of the words typed.
    assert set(_slugs(SearchQuery(text="freez"))) == {"freezing-en"}


def test_title_and_holding_rank_above_body(corpus):
    assert _slugs(SearchQuery(text="reparations")) == ["title-hit", "body-hit"]
    assert _slugs(SearchQuery(text="costs")) [0] == "body-hit"  # title and holding beat a holding only


def test_filters(corpus):
    assert set(_slugs(SearchQuery(topic="freezing"))) == {"freezing-en", "gel-fr"}
    assert set(_slugs(SearchQuery(article="93(1)(k)"))) == {"freezing-en", "gel-fr"}
    assert set(_slugs(SearchQuery(chamber="appeals"))) == {"body-hit", "freezing-en", "gel-fr"}
    assert set(_slugs(SearchQuery(year=2017))) == {"title-hit"}
    assert set(_slugs(SearchQuery(kind="guidance"))) == {"travel-guidance"}
    assert set(_slugs(SearchQuery(language="fr"))) == {"gel-fr"}
    assert set(_slugs(SearchQuery(text="lien", language="fr", chamber="appeals"))) == {"gel-fr"}
    assert _slugs(SearchQuery(text="freezing", language="fr")) == []
    # Without a query: every visible item, never the draft or the scheduled one.
    everything = set(_slugs(SearchQuery(limit=50)))
    assert everything == {"title-hit", "body-hit", "freezing-en", "travel-guidance", "gel-fr"}


def test_snippets_are_highlighted_and_escaped(corpus):
    hits = search.search(db.session, SearchQuery(text="markup"), utcnow()).hits
    assert [h.item.slug for h in hits] == ["freezing-en"]
    snippet = str(hits[0].snippet)
    assert "<mark>" in snippet and "</mark>" in snippet
    # The body's "<b>" was Markdown-escaped text: it is indexed as text and escaped again on output.
    assert "<b>" not in snippet and "&lt;b&gt;" in snippet or "Markup" in snippet
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")


def test_query_syntax_is_not_interpreted(corpus):
    for hostile in ['"', "freezing OR 1=1", "NEAR(freezing", "freezing*)", "'; DROP TABLE x; --", "a & | !",
                    "col:freezing", "^freezing"]:
        search.search(db.session, SearchQuery(text=hostile), utcnow())  # no error
    assert set(_slugs(SearchQuery(text="freezing OR travel"))) == set()  # OR is a word, all words required


def test_the_search_page_shows_results(client, auth, users, corpus):
    auth.login(users["member_nl"])
    response = client.get("/caselaw?q=freezing&language=en")
    text_ = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Freezing assets without a link to the crime" in text_ and "<mark>" in text_
    assert "Draft about freezing" not in text_ and "Scheduled freezing" not in text_
    bad = client.get("/caselaw?year=abc&topic=nope")
    assert bad.status_code == 400 and "Choose one of the options in the list." in bad.get_data(as_text=True)


def test_withdrawn_items_leave_the_index(corpus, users):
    services.withdraw(db.session, corpus["freezing-en"], user=users["editor"], actor=ACTOR, reason="test")
    db.session.commit()
    assert _slugs(SearchQuery(text="freezing")) == []
    # The index table holds only published items.
    count = db.session.scalar(text(f"SELECT count(*) FROM {search.FTS_TABLE}"))
    assert count == 4 + 1  # four visible + the scheduled one (visibility is checked at query time)


def test_a_search_is_one_statement(corpus):
    """Ranking, count, page rows and snippets in one round trip (no per-row or per-relation
    queries), with and without words."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for query in (SearchQuery(text="freezing"), SearchQuery(text="reparations", chamber="appeals"),
                      SearchQuery(), SearchQuery(topic="freezing"), SearchQuery(text="nonexistentword")):
            statements.clear()
            search.search(db.session, query, utcnow())
            assert len(statements) == 1, (query, statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_counts_stop_at_the_cap_and_pages_still_know_what_follows(corpus, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    everything = search.search(db.session, SearchQuery(limit=50), utcnow())
    assert len(everything.hits) == 5 and everything.total == 2 and everything.more and not everything.has_next
    first = search.search(db.session, SearchQuery(limit=2), utcnow())
    assert len(first.hits) == 2 and first.more and first.has_next
    last = search.search(db.session, SearchQuery(limit=2, offset=4), utcnow())
    assert len(last.hits) == 1 and not last.has_next
    beyond = search.search(db.session, SearchQuery(limit=2, offset=10), utcnow())
    assert beyond.hits == [] and beyond.total == 2 and beyond.more and not beyond.has_next
    # Under the cap the count is exact.
    ranked = search.search(db.session, SearchQuery(text="reparations", limit=1), utcnow())
    assert ranked.total == 2 and not ranked.more and ranked.has_next
    assert [h.item.slug for h in ranked.hits] == ["title-hit"]
    second = search.search(db.session, SearchQuery(text="reparations", limit=1, offset=1), utcnow())
    assert [h.item.slug for h in second.hits] == ["body-hit"] and not second.has_next
    assert search.search(db.session, SearchQuery(text="reparations", offset=5), utcnow()).total == 2


def test_the_search_page_shows_a_capped_count(client, auth, users, corpus, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    auth.login(users["member_nl"])
    page = client.get("/caselaw?kind=explainer").get_data(as_text=True)
    assert "2+ items found." in page and 'rel="next"' not in page  # four explainers, one page
    page = client.get("/caselaw?q=reparations").get_data(as_text=True)
    assert "2 items found." in page and "2+" not in page


def test_postgresql_keeps_the_vectors_in_the_row(corpus, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL storage settings")
    storage = db.session.scalar(text(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = 'document'"),
        {"t": search.FTS_TABLE})
    assert storage == "m"


def test_lists_and_facets_do_only_the_work_asked_for(corpus):
    since = utcnow() - timedelta(hours=1)
    everything = services.new_since(db.session, since, utcnow(), limit=50)
    assert len(everything) == 5
    assert services.new_since(db.session, since, utcnow(), limit=2) == everything[:2]  # newest first
    assert services.feed_entries(db.session, utcnow(), limit=3) == everything[:3]
    full = services.facet_counts(db.session, utcnow())
    assert full["chambers"] == {"appeals": 3, "trial_ii": 1} and full["years"] == {2016: 3, 2017: 1}
    assert services.facet_counts(db.session, utcnow(), facets=("chambers",)) == {"chambers": full["chambers"]}
    assert services.facet_counts(db.session, utcnow(), facets=("years",)) == {"years": full["years"]}
