"""The threads pages (server side: shells, 404 for non-members) and the two API additions the
browser needs: the roster of a party about to be added (owner side only), and former members'
keys for current members (to verify the log that names them)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import AuthActions
from tests.functional.test_threads_api_kit import Api, event_payload, publish_keys, unb64

THREAD_PAGES = ("/threads", "/threads/new", "/threads/keys")


@pytest.fixture
def world(client, auth, users, app):  # type: ignore[no-untyped-def]
    out = {}
    for name in ("focal_nl", "member_nl", "focal_sn", "member_sn", "admin"):
        c = app.test_client()
        actions = AuthActions(c)
        actions.login(users[name])
        api = Api(c, actions.csrf("/dashboard"))
        dev = publish_keys(api) if name not in ("admin", "member_nl") else None
        out[name] = (api, dev, users[name])
    return out


def _thread(world, parties: list[str], members: list[str]) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    api, dev, user = world["focal_nl"]
    tid = api.post("/api/v1/threads", {"parties": parties}).get_json()["id"]
    ids = [world[m][2].id for m in members]
    r = api.post(f"/api/v1/threads/{tid}/events", event_payload(dev, 0, bytes(32), "create", users=ids, epoch=1,
                                                               members=ids, meta=os.urandom(64)))
    assert r.status_code == 201, r.get_json()
    return tid, unb64(r.get_json()["hash"])


def test_pages_render_the_shell_with_strings_and_no_content(world):
    api = world["focal_nl"][0]
    for path in THREAD_PAGES:
        r = api.get(path)
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        assert 'name="csrf-token"' in html and 'id="threads-strings"' in html
        assert 'type="module"' in html and "<script>" not in html
    new = api.get("/threads/new").get_data(as_text=True)
    assert "SEN · Senegal" in new and "NLD · " not in new  # one's own party always takes part
    assert 'method="post"' in new and "disabled>" in new  # never posted in the clear without JS
    nav = api.get("/dashboard").get_data(as_text=True)
    assert 'href="/threads"' in nav


def test_secretariat_has_no_threads(world):
    api = world["admin"][0]
    for path in THREAD_PAGES:
        assert api.get(path).status_code == 404
    assert 'href="/threads"' not in api.get("/dashboard").get_data(as_text=True)


def test_thread_page_only_for_members(world):
    tid, _ = _thread(world, ["SEN"], ["focal_nl", "focal_sn"])
    assert world["focal_nl"][0].get(f"/threads/{tid}").status_code == 200
    page = world["focal_sn"][0].get(f"/threads/{tid}").get_data(as_text=True)
    assert f'data-thread-id="{tid}"' in page and 'id="composer"' in page
    # Not a member (same State as a member, other State, Secretariat), unknown or malformed ids.
    for name in ("member_sn", "member_nl", "admin"):
        assert world[name][0].get(f"/threads/{tid}").status_code == 404, name
    assert world["focal_nl"][0].get(f"/threads/{'0' * 32}").status_code == 404
    assert world["focal_nl"][0].get("/threads/NOT-AN-ID").status_code == 404
    # The list shows the thread with its parties, but no title (only the browser decrypts it).
    listing = world["focal_sn"][0].get("/threads").get_data(as_text=True)
    assert f"/threads/{tid}" in listing and "NLD, SEN" in listing


def test_roster_of_a_party_about_to_be_added(world, users):
    tid, _ = _thread(world, [], ["focal_nl"])
    api = world["focal_nl"][0]
    r = api.get(f"/api/v1/threads/{tid}/roster?party=SEN")
    assert r.status_code == 200
    [party] = r.get_json()["parties"]
    assert party["party"] == "SEN"
    assert {u["user_id"] for u in party["users"]} == {users["focal_sn"].id, users["member_sn"].id}
    assert all(u["identity"] and u["record"] for u in party["users"])
    # Parties already in the thread, unknown parties: 404.
    assert api.get(f"/api/v1/threads/{tid}/roster?party=NLD").status_code == 404
    assert api.get(f"/api/v1/threads/{tid}/roster?party=XXX").status_code == 404


def test_roster_preview_is_for_the_owner_side_only(world):
    tid, _ = _thread(world, ["SEN"], ["focal_nl", "focal_sn"])
    # SEN takes part but does not own the thread: it cannot look up a third party's users.
    assert world["focal_sn"][0].get(f"/api/v1/threads/{tid}/roster?party=ICC-REG").status_code == 404
    assert world["focal_nl"][0].get(f"/api/v1/threads/{tid}/roster?party=ICC-REG").status_code == 200


def test_former_members_keys_stay_visible_to_current_members(world, users):
    tid, head = _thread(world, ["SEN"], ["focal_nl", "focal_sn"])
    api, dev, nl = world["focal_nl"]
    sn = users["focal_sn"]
    assert api.get(f"/api/v1/users/{sn.id}/keys").status_code == 200
    r = api.post(f"/api/v1/threads/{tid}/events", event_payload(dev, 1, head, "remove_state", party="SEN", epoch=2,
                                                               members=[nl.id]))
    assert r.status_code == 201, r.get_json()
    # NLD still verifies the log that names the removed user; the removed user sees nothing.
    assert api.get(f"/api/v1/users/{sn.id}/keys").status_code == 200
    assert world["focal_sn"][0].get(f"/api/v1/users/{nl.id}/keys").status_code == 404
    assert world["focal_sn"][0].get(f"/threads/{tid}").status_code == 404
