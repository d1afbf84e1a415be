"""English and French through the real pages: the browser's language, the language switch
(CSRF-protected), the signed-in user's own choice, and no page mixing the two languages."""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from cooperation.accounts.models import User
from cooperation.extensions import db
from tests.conftest import csrf_from

PO = (Path(__file__).resolve().parents[2] / "platform" / "cooperation" / "translations" / "fr"
      / "LC_MESSAGES" / "messages.po")
FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}

# The pages each role reaches, core and plugin, as that role (member, focal point, Registry
# editor, Secretariat administrator).
MEMBER_PAGES = ["/dashboard", "/account", "/account/security", "/account/sessions", "/directory/",
                "/directory/states/NLD", "/caselaw", "/caselaw/articles", "/caselaw/chambers",
                "/caselaw/years", "/caselaw/feed-token", "/questionnaires/", "/questionnaires/profiles",
                "/noncooperation/", "/agreements/"]
FOCAL_PAGES = ["/my-state/users", "/my-state/users/invite", "/questionnaires/"]
EDITOR_PAGES = ["/editor/caselaw", "/editor/caselaw/new", "/agreements/new"]
ADMIN_PAGES = ["/admin/membership", "/admin/membership/states/new", "/admin/membership/users",
               "/admin/membership/invitations", "/admin/audit/", "/questionnaires/manage/",
               "/questionnaires/manage/new", "/noncooperation/cases/new", "/noncooperation/focal-points",
               "/noncooperation/sessions"]


def pages_by_role(users) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    from tests.factories import party

    return {"member_nl": MEMBER_PAGES, "focal_nl": FOCAL_PAGES, "editor": EDITOR_PAGES,
            "admin": [*ADMIN_PAGES, f"/admin/membership/users/{users['member_nl'].id}",
                      f"/admin/membership/states/{party('NLD').id}"]}


@cache
def _pairs() -> list[tuple[str, str]]:
    """(English, French) for every translated sentence-like message without placeholders: the
    kind of text that, found on a page in the other language, means a mixed page."""
    with PO.open("rb") as f:
        cat = read_po(f)
    found = []
    for m in cat:
        if not m.id or isinstance(m.id, tuple) or "%" in m.id or m.id == m.string:
            continue
        if len(m.id.split()) >= 2 and len(m.string.split()) >= 2:
            found.append((m.id, m.string))
    return found


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def party_names(attribute: str) -> list[str]:
    from sqlalchemy import select

    from cooperation.membership.models import Party

    names = [n for n in db.session.scalars(select(getattr(Party, attribute))) if n]
    db.session.rollback()
    return sorted(names, key=len, reverse=True)


def assert_french(page: str, data: tuple[str, ...] = ()) -> None:
    assert '<html lang="fr">' in page
    for text in data:  # content typed by users, in both languages
        page = page.replace(text, "")
    # Names of States and organisations are data (checked in their own test below): an English
    # organisation name such as "Secretariat of the Assembly of States Parties" is not a
    # missing translation of the interface.
    for name in party_names("name_en"):
        page = page.replace(name, "")
    english = [en for en, _ in _pairs() if en in page]
    assert not english, f"English text on a French page: {english}"


def assert_english(page: str, data: tuple[str, ...] = ()) -> None:
    assert '<html lang="en">' in page
    for text in data:
        page = page.replace(text, "")
    for name in party_names("name_fr"):
        page = page.replace(name, "")
    french = [fr for _, fr in _pairs() if fr in page]
    assert not french, f"French text on an English page: {french}"


def h1(page: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert match, "no <h1>"
    return match.group(1).strip()


def test_login_page_follows_the_browser_language(client):
    page = text_of(client.get("/login", headers=FR))
    assert_french(page)
    assert h1(page) == "Connexion"
    assert "<title>Connexion · Plateforme sécurisée de coopération</title>" in page
    for label in ("Adresse électronique", "Mot de passe", "Continuer", "Aller au contenu principal",
                  "Destinée aux autorités nationales des États Parties"):
        assert label in page

    page = text_of(client.get("/login", headers=EN))
    assert_english(page)
    assert h1(page) == "Sign in"
    for label in ("E-mail address", "Password", "Continue", "Skip to main content"):
        assert label in page


def test_unsupported_browser_language_falls_back_to_english(client):
    page = text_of(client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert_english(page)
    assert text_of(client.get("/login"))  # no header at all
    assert '<html lang="en">' in text_of(client.get("/login"))


def test_french_validation_messages_on_the_login_form(client):
    token = csrf_from(client.get("/login", headers=FR).get_data(as_text=True))
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token},
                           headers=FR)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Veuillez saisir votre adresse électronique." in page
    assert "Veuillez saisir votre mot de passe." in page
    assert "Veuillez corriger les points suivants" in page

    token = csrf_from(page)
    response = client.post("/login", data={"email": "nobody@nowhere.test",
                                           "password": "not the right password", "csrf_token": token},
                           headers=FR)
    assert response.status_code == 400
    assert "L'adresse électronique ou le mot de passe est incorrect." in \
        html.unescape(response.get_data(as_text=True))


def test_language_switch_on_the_login_page(client):
    page = text_of(client.get("/login", headers=EN))
    assert 'action="/language"' in page and '<option value="fr" lang="fr"' in page
    response = client.post("/language", data={"locale": "fr", "csrf_token": csrf_from(page)},
                           headers={**EN, "Referer": "http://localhost/login"})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/login", "http://localhost/login")
    # The choice is kept in the session and beats the browser's English.
    page = text_of(client.get("/login", headers=EN))
    assert_french(page)
    assert h1(page) == "Connexion"
    assert '<option value="fr" lang="fr" selected>' in page

    # And back to English with the same form, now labelled in French.
    client.post("/language", data={"locale": "en", "csrf_token": csrf_from(page)}, headers=FR)
    page = text_of(client.get("/login", headers=FR))
    assert_english(page)


def test_language_switch_refuses_a_missing_token_and_unknown_languages(client):
    client.get("/login", headers=EN)
    refused = client.post("/language", data={"locale": "fr"}, headers=EN)
    assert refused.status_code == 400
    assert '<html lang="en">' in text_of(client.get("/login", headers=EN))

    token = csrf_from(client.get("/login", headers=EN).get_data(as_text=True))
    client.post("/language", data={"locale": "de", "csrf_token": token}, headers=EN)
    assert '<html lang="en">' in text_of(client.get("/login", headers=EN))


def test_language_switch_does_not_redirect_off_site(client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/language", data={"locale": "fr", "csrf_token": token},
                           headers={"Referer": "https://evil.example/phish"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_signed_in_user_with_french_sees_dashboard_and_nav_in_french(client, auth, users):
    user = users["member_nl"]
    user.locale = "fr"
    db.session.commit()
    auth.login(user)
    # The account's language wins over the browser's.
    page = text_of(client.get("/dashboard", headers=EN))
    assert_french(page)
    assert h1(page) == "Tableau de bord"
    nav = re.search(r'<nav aria-label="Navigation principale" class="main-nav">(.*?)</nav>', page, re.S)
    assert nav, "main navigation not labelled in French"
    assert "Tableau de bord" in nav.group(1) and "Points de contact" in nav.group(1)
    for text in ("Mon compte", "Se déconnecter", "Vue d'ensemble", "Vos sessions actives",
                 f"Bienvenue, {user.full_name}.", "Pays-Bas"):
        assert text in page, text


def test_every_page_is_entirely_french(client, auth, users):
    pages = pages_by_role(users)
    for name in pages:
        users[name].locale = "fr"
    db.session.commit()
    for name, paths in pages.items():
        auth.login(users[name])
        for path in paths:  # the account's French wins over the browser's English
            assert_french(text_of(client.get(path, headers=EN)))
        auth.logout()


def test_party_names_follow_the_locale_in_membership_admin(client, auth, users):
    users["admin"].locale = "fr"
    db.session.commit()
    auth.login(users["admin"])
    for path in ("/admin/membership/users", "/admin/membership/invitations"):
        page = text_of(client.get(path))
        assert "Pays-Bas (Royaume des)" in page
        assert "Netherlands (Kingdom of the)" not in page


def test_english_stays_complete(client, auth, users):
    auth.login(users["member_nl"])
    page = text_of(client.get("/dashboard", headers=FR))  # locale "en" on the account wins
    assert h1(page) == "Dashboard"
    for text in ("My account", "Sign out", "Overview", "Contact points", "Netherlands"):
        assert text in page, text
    auth.logout()
    for name, paths in pages_by_role(users).items():
        auth.login(users[name])
        for path in paths:
            assert_english(text_of(client.get(path, headers=FR)))
        auth.logout()


def test_signed_in_language_switch_is_saved_on_the_account(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    client.post("/language", data={"locale": "fr", "csrf_token": token})
    assert db.session.get(User, user.id).locale == "fr"
    assert_french(text_of(client.get("/dashboard")))


def test_error_pages_are_translated(client, auth, users):
    users["member_nl"].locale = "fr"
    db.session.commit()
    auth.login(users["member_nl"])
    response = client.get("/this/does/not/exist")
    assert response.status_code == 404
    page = html.unescape(response.get_data(as_text=True))
    assert '<html lang="fr">' in page
    assert "Cette page n'existe pas ou vous n'y avez pas accès." in page


@pytest.mark.parametrize("locale, expected", [("fr", "Connexion"), ("en", "Sign in")])
def test_catalogue_is_used_outside_requests(app, locale, expected):
    # Mail bodies are rendered with force_locale, outside any request's locale selection.
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale(locale):
        assert gettext("Sign in") == expected


@pytest.mark.parametrize("locale, check", [("fr", assert_french), ("en", assert_english)])
def test_questionnaire_pages_in_one_language(app, client, auth, users, locale, check):
    from tests.functional.questionnaire_fixtures import build

    q = build(app)
    # The fixture's questionnaire title happens to equal a case-law topic of the catalogue.
    data = ("National procedures", "Procédures nationales")
    pages = {"focal_nl": ["/questionnaires/", f"/questionnaires/{q.id}/response",
                          f"/questionnaires/{q.id}/states/NLD"],
             "admin": [f"/questionnaires/manage/{q.id}", f"/questionnaires/manage/{q.id}/tracking",
                       f"/questionnaires/analysis/{q.id}"]}
    for name, paths in pages.items():
        users[name].locale = locale
        db.session.commit()
        auth.login(users[name])
        for path in paths:
            page = text_of(client.get(path, headers=EN if locale == "fr" else FR))
            check(page, data)
            if path.endswith("/response"):  # the bilingual content follows the interface
                assert ("Enregistrer les réponses" if locale == "fr" else "Save answers") in page
                assert ("Autorité centrale" if locale == "fr" else "Central authority") in page
        auth.logout()


@pytest.mark.parametrize("locale, check", [("fr", assert_french), ("en", assert_english)])
def test_case_law_pages_in_one_language(app, client, auth, users, locale, check):
    from tests.functional.caselaw_support import published, second_editor

    editor, approver = users["editor"], second_editor()
    item = published(editor, approver, "freezing-no-link")
    db.session.commit()
    pages = {"member_nl": ["/caselaw", f"/caselaw/{item.slug}", "/caselaw/articles"],
             "editor": [f"/editor/caselaw/{item.id}", f"/editor/caselaw/{item.id}/history",
                        f"/editor/caselaw/{item.id}/edit"]}
    for name, paths in pages.items():
        users[name].locale = locale
        db.session.commit()
        auth.login(users[name])
        for path in paths:
            check(text_of(client.get(path, headers=EN if locale == "fr" else FR)))
        auth.logout()
    users["member_nl"].locale = "fr"
    db.session.commit()
    auth.login(users["member_nl"])
    page = text_of(client.get(f"/caselaw/{item.slug}"))
    assert "Ce que la Cour a décidé" in page and "Chambre d'appel" in page
