"""What readers see: published items at stable URLs, language versions and the "older
translation" notice, related items both ways, the indexes, "new since your last visit", and the
demo content."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cooperation.caselaw import seed, services
from cooperation.caselaw.models import CaselawItem, CaselawReaderState
from cooperation.caselaw.taxonomy import ItemKind, Language
from cooperation.db import utcnow
from cooperation.extensions import db
from tests.functional.caselaw_support import ACTOR, draft, explainer, publish, published, second_editor


def test_stable_urls_per_kind(client, auth, users):
    other = second_editor()
    published(users["editor"], other, "an-explainer")
    published(users["editor"], other, "a-guidance-note", kind=ItemKind.GUIDANCE)
    db.session.commit()
    auth.login(users["court"])
    assert client.get("/caselaw/an-explainer").status_code == 200
    page = client.get("/guidance/a-guidance-note")
    assert page.status_code == 200 and "Executing a freezing request" in page.get_data(as_text=True)
    # The other kind's URL redirects to the canonical one.
    moved = client.get("/caselaw/a-guidance-note")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/guidance/a-guidance-note")
    assert client.get("/caselaw/no-such-item").status_code == 404
    assert client.get("/guidance").headers["Location"].endswith("/caselaw?kind=guidance")


def test_drafts_are_404_for_readers_and_open_the_workspace_for_editors(client, auth, users):
    item = draft(users["editor"], "hidden-draft")
    db.session.commit()
    for who in ("member_nl", "focal_sn", "admin", "court"):
        auth.login(users[who])
        assert client.get("/caselaw/hidden-draft").status_code == 404, who
        auth.logout()
    auth.login(users["editor"])
    response = client.get("/caselaw/hidden-draft")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/editor/caselaw/{item.id}")


def test_language_versions_and_older_translation_notice(client, auth, users):
    editor, other = users["editor"], second_editor()
    source = published(editor, other, "freezing-en", explainer("Freezing: no link"))
    french = published(editor, other, "gel-fr", explainer("Gel : aucun lien"), language=Language.FR,
                       translation_of=source)
    db.session.commit()
    assert french.translation_group == source.translation_group
    auth.login(users["member_sn"])
    page = client.get("/caselaw/gel-fr").get_data(as_text=True)
    assert "Available in:" in page and 'href="/caselaw/freezing-en"' in page
    assert "older than the English version" not in page
    # The English source is updated and approved after the translation.
    services.save_item(db.session, source, explainer("Freezing: no link (updated)"), author=editor, actor=ACTOR,
                       now=utcnow() + timedelta(seconds=1))
    publish(source, editor, other)
    db.session.commit()
    page = client.get("/caselaw/gel-fr").get_data(as_text=True)
    assert "This translation is older than the English version" in page
    english = client.get("/caselaw/freezing-en").get_data(as_text=True)
    assert "Français" in english and "(older translation)" in english
    # Updating the translation clears the notice.
    services.save_item(db.session, french, explainer("Gel : aucun lien (à jour)"), author=editor, actor=ACTOR,
                       now=utcnow() + timedelta(seconds=3))
    publish(french, editor, other)
    db.session.commit()
    assert "older than the English version" not in client.get("/caselaw/gel-fr").get_data(as_text=True)


def test_translation_is_created_from_the_source(client, auth, users):
    other = second_editor()
    source = published(users["editor"], other, "source-en")
    db.session.commit()
    auth.login(users["editor"])
    page = client.get(f"/editor/caselaw/new?translation_of={source.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Freezing without a link" in text  # prefilled
    from tests.conftest import csrf_from

    data = {"slug": "source-fr", "language": "fr", "title": "Gel sans lien", "chamber": "appeals",
            "decision_date": "2016-02-15", "holding": "Aucun lien requis.", "topics": ["freezing"],
            "action": "save", "csrf_token": csrf_from(text)}
    assert client.post(f"/editor/caselaw/new?translation_of={source.id}", data=data).status_code == 302
    fr = db.session.scalar(select(CaselawItem).where(CaselawItem.slug == "source-fr"))
    assert fr.translation_of_id == source.id and fr.translation_group == source.translation_group
    # A second French version of the same group is refused.
    again = client.post(f"/editor/caselaw/new?translation_of={source.id}",
                        data={**data, "slug": "source-fr-2", "csrf_token": csrf_from(text)})
    assert again.status_code == 400 and "already exists in that language" in again.get_data(as_text=True)


def test_related_items_link_both_ways(client, auth, users):
    other = second_editor()
    note = published(users["editor"], other, "freezing-checklist", kind=ItemKind.GUIDANCE)
    published(users["editor"], other, "the-decision", explainer("The decision", related_ids=(note.id,)))
    db.session.commit()
    auth.login(users["member_nl"])
    decision = client.get("/caselaw/the-decision").get_data(as_text=True)
    assert 'href="/guidance/freezing-checklist"' in decision
    checklist = client.get("/guidance/freezing-checklist").get_data(as_text=True)
    assert 'href="/caselaw/the-decision"' in checklist


def test_indexes_by_article_chamber_and_year(client, auth, users):
    other = second_editor()
    published(users["editor"], other, "indexed")
    draft(users["editor"], "not-counted", explainer(articles=("86",)))
    db.session.commit()
    auth.login(users["focal_nl"])
    articles = client.get("/caselaw/articles").get_data(as_text=True)
    for code, title in (("86", "General obligation to cooperate"), ("102", "Use of terms"),
                        ("57(3)(e)", "protective measures"), ("109", "Enforcement of fines and forfeiture measures"),
                        ("112", "Assembly of States Parties"), ("75", "Reparations to victims"), ("77", "Applicable penalties")):
        assert code in articles and title in articles
    assert 'href="/caselaw?article=93(1)(k)"' in articles
    assert 'href="/caselaw?article=86"' not in articles  # only a draft refers to it
    chambers = client.get("/caselaw/chambers").get_data(as_text=True)
    assert "Appeals Chamber" in chambers and 'href="/caselaw?chamber=appeals"' in chambers
    years = client.get("/caselaw/years").get_data(as_text=True)
    assert 'href="/caselaw?year=2016"' in years


def test_new_since_last_visit(client, auth, users):
    other = second_editor()
    old = published(users["editor"], other, "old-news", explainer("Old news"))
    old.publish_at = utcnow() - timedelta(days=5)
    db.session.commit()
    reader = users["member_nl"]
    auth.login(reader)
    first = client.get("/caselaw").get_data(as_text=True)
    assert "New since your last visit" not in first  # first visit: nothing to compare with
    state = db.session.get(CaselawReaderState, reader.id)
    assert state is not None and state.previous_visit_at is None
    # Some time later, something is published.
    state.last_visit_at = utcnow() - timedelta(days=3)
    db.session.commit()
    published(users["editor"], other, "fresh-news", explainer("Fresh news"))
    db.session.commit()
    page = client.get("/caselaw").get_data(as_text=True)
    section = page.split("New since your last visit", 1)[1].split("</section>", 1)[0]
    assert "Fresh news" in section and "Old news" not in section
    # Reloading within the same visit keeps the list.
    assert "Fresh news" in client.get("/caselaw").get_data(as_text=True).split("</section>", 1)[0]


def test_demo_seed_publishes_linked_items(client, auth, users):
    added = seed.run(db.session)
    db.session.commit()
    assert added == len(seed.DEMO_ITEMS) and seed.run(db.session) == 0  # idempotent
    items = {i.slug: i for i in db.session.scalars(select(CaselawItem))}
    assert all(i.is_demo and i.published_version_number == 1 for i in items.values())
    fr = items["gel-des-avoirs-aucun-lien-requis"]
    assert fr.translation_of_id == items["freezing-no-link-between-crime-and-assets"].id
    assert items["ordonnances-sur-les-deplacements-des-suspects"].translation_of_id == \
        items["orders-on-information-about-travel-of-suspects"].id
    auth.login(users["member_sn"])
    page = client.get("/caselaw/freezing-no-link-between-crime-and-assets").get_data(as_text=True)
    assert "ICC-ACRed-01/16" in page and "Appeals Chamber" in page and "Demo content" in page
    assert 'href="/guidance/executing-a-freezing-request"' in page
    assert "Français" in page
    found = client.get("/caselaw?q=travel+suspects").get_data(as_text=True)
    assert "orders-on-information-about-travel-of-suspects" in found
