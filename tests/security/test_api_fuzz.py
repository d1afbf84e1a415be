"""Property-based fuzz of the JSON API (/api/v1) against its own OpenAPI document, with
Schemathesis (issue #6): every operation, valid and invalid inputs, as a State member with a
bearer token, as the Secretariat with a browser session, and without any credential.

All of Schemathesis' default checks run on every response (not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, positive_data_acceptance, negative_data_rejection, ignored_auth,
unsupported_method, ...): any finding fails the test, so there is no finding at all, whatever
its severity. Path parameters are sometimes the member's real thread, attachments, device and
colleague, so that the fuzzer gets past the 404 of an unknown id.

The schema is loaded from the running application (GET /api/v1/openapi.json through WSGI) and
the calls go to the same application in-process, each in an application context of its own, as
in production (no request ever sees another's `g` or database session). Hypothesis runs
derandomised with few examples per operation, so a run is deterministic and quick.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from cooperation.accounts.models import User
from cooperation.audit.service import Actor
from cooperation.extensions import db
from cooperation.permissions import Role
from cooperation.threads import services as s
from cooperation.threads.storage import get_storage
from tests.conftest import AuthActions, _clean, csrf_from
from tests.factories import make_user
from tests.functional.oauth_helpers import new_client, obtain_tokens, register_client
from tests.functional.test_threads_api_kit import (b64, envelope, event_payload, seed_approval, seed_attachment,
                                                   seed_keys, seed_thread, unb64)
from tests.mailbox import Mailbox

# Examples per operation and generation mode (positive, negative), besides Schemathesis' own
# deterministic boundary cases (coverage phase). The member reaches the most code; the others
# are mostly refused, which a few examples show as well as many.
EXAMPLES = {"member": 10, "secretariat": 4, "anonymous": 2}
INT32 = 2 ** 31 - 1
HEX_ID = re.compile(r"[0-9a-f]{32}")
# Schemathesis' defaults, plus 413 (Content Too Large): for schema-violating input, a refusal as
# good as a 400 (so is 411, for a part sent without a length); for schema-valid input, the answer
# to a base64 value at the very length limit that decodes to a byte or two more than allowed
# (see openapi._b64_rules).
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]
CONFIG: dict[str, Any] = {
    "checks": {
        "negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "411", "413", "415", "422", "428", "429", "5xx"]},
        "positive_data_acceptance": {"expected-statuses": POSITIVE},
    },
    # Methods a path does not have must get 405: three stand for all (Schemathesis tries eight).
    "phases": {"coverage": {"unexpected-methods": ["delete", "patch", "trace"]}},
    # Operations whose input has rules no JSON Schema can state, checked by the server with a
    # clear 400: signatures and envelopes that must verify (an approval's too), references to one's own devices,
    # existing parties and messages, the next key generation, an upload's part sizes.
    "operations": [{
        "include-operation-id": ["addGeneration", "createThread", "appendEvent", "postMessage", "markRead",
                                 "createAttachment", "putPart", "approveDevice"],
        "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE, "400"]}},
    }],
}

# The Secretariat and anonymous callers are refused before any input is read, except on the key
# endpoints, whose input handling the member's run covers: Schemathesis' boundary cases of
# invalid input (several hundred per run) would only repeat the refusal.
ONLY_POSITIVE_COVERAGE: dict[str, Any] = {"phases": {"coverage": {**CONFIG["phases"]["coverage"],
                                                                  "generation": {"mode": "positive"}}}}


@dataclass
class World:
    """Who calls, with which credentials, and the real objects path parameters may name."""

    principal: str
    token: str  # the member's bearer token: the document is for signed-in users only
    bearer: str | None = None  # the member's credential
    session: tuple[str, str, str] | None = None  # the Secretariat's: cookie name, value, CSRF token
    # Each dict: values for path parameters of that name; an operation gets, besides the
    # fuzzer's own values, each of these restricted to the parameters it has.
    real: list[dict[str, Any]] = field(default_factory=list)


def _build_world(app: Flask, principal: str) -> World:
    """Seed users, keys, a thread with a message and two uploads; sign the principal in."""
    member = make_user("NLD", Role.STATE_MEMBER, "member@nl.example.org")
    colleague = make_user("NLD", Role.STATE_FOCAL_POINT, "focal@nl.example.org")
    make_user("SEN", Role.STATE_MEMBER, "member@sn.example.org")
    admin = make_user("ASP-SEC", Role.SECRETARIAT_ADMIN, "admin@asp.example.org")
    db.session.commit()
    member_id, colleague_id, admin_id = member.id, colleague.id, admin.id

    dev = seed_keys(member_id)
    spare = seed_keys(member_id)  # a device the fuzzer may revoke
    seed_keys(colleague_id)
    thread_id = seed_thread(member_id, "SEN")
    done = seed_attachment(app, thread_id, member_id)
    owner = db.session.get(User, member_id)
    thread, _member = s.membership(db.session, owner, thread_id)
    open_upload = s.create_upload(db.session, owner, thread, size=100_000, part_size=65_536, storage=get_storage(app),
                                  max_size=1 << 30, actor=Actor.system("test"))
    open_id = open_upload.id
    waiting = seed_approval(member_id)  # a browser of the member's waiting for approval
    db.session.commit()

    register_client(app)
    token = obtain_tokens(app, db.session.get(User, member_id), scope="profile threads")["access_token"]
    http = new_client(app)
    posted = http.post(f"/api/v1/threads/{thread_id}/messages", headers={"Authorization": f"Bearer {token}"},
                       json={"envelope": b64(envelope(thread_id, 1, member_id, dev, b"fuzz me"))})
    assert posted.status_code == 201, posted.get_json()

    common = {"thread_id": thread_id, "number": 0, "epoch": 1, "user_id": colleague_id, "device_id": spare.device_id,
              "request_id": waiting}
    real = [{**common, "attachment_id": done}, {**common, "attachment_id": open_id, "user_id": member_id}]
    world = World(principal, token, real=real)
    if principal == "member":
        world.bearer = token
    elif principal == "secretariat":
        # A browser session (cookie + X-CSRFToken): the Secretariat's own role is refused the
        # threads, not merely a token's scope. It has keys (KEYS_PUBLISH) and a bare thread.
        admin_dev = seed_keys(admin_id)
        bare = seed_thread(admin_id, "NLD")
        db.session.commit()
        world.real.append({**common, "thread_id": bare, "device_id": admin_dev.device_id, "user_id": member_id})
        browser = new_client(app)
        AuthActions(browser).login(db.session.get(User, admin_id))
        cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"])
        assert cookie is not None
        world.session = (cookie.key, cookie.value, csrf_from(browser.get("/account").get_data(as_text=True)))
    return world


def _world(app: Flask, mailbox: Mailbox, principal: str) -> Iterator[World]:
    """Like the `app` fixture (clean tables, leak check), but with no application context left
    pushed during the fuzz: each call then gets a fresh one, as a real request does."""
    _clean(app)
    mailbox.clear()
    with app.app_context():
        world = _build_world(app, principal)
        db.session.commit()
        db.session.remove()
    yield world
    with app.app_context():
        db.session.remove()
        leaked = db.engine.pool.checkedout()
    assert leaked == 0, f"{leaked} database connection(s) still checked out after the fuzz"


def _valid_path_value(name: str, value: Any) -> bool:
    """Whether the fuzzer drew a value the document allows: only those are swapped for real ones
    (a negative case must stay negative, or its acceptance would be reported as a finding)."""
    if name.endswith("_id") and name != "user_id":
        return isinstance(value, str) and HEX_ID.fullmatch(value) is not None
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32


def _schema(world: World, app: Flask) -> schemathesis.BaseSchema:
    """The document as the application serves it, with the world's credentials and objects."""
    config = CONFIG if world.principal == "member" else {**CONFIG, **ONLY_POSITIVE_COVERAGE}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=SchemathesisConfig.from_dict(config),
                                            headers={"Authorization": f"Bearer {world.token}"})

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        choices = [path_parameters]
        if isinstance(path_parameters, dict):
            for real in world.real:
                candidate = {**path_parameters, **{name: value for name, value in real.items()
                                                   if _valid_path_value(name, path_parameters.get(name))}}
                if candidate not in choices:
                    choices.append(candidate)
        return st.sampled_from(choices)

    # Credentials through Schemathesis' auth hook, not extra headers: it then knows the case is
    # authenticated (no random credentials of its own) and can probe without them (ignored_auth).
    if world.bearer is not None:
        bearer = world.bearer

        @schema.auth()
        class BearerToken:
            def get(self, case: Any, ctx: Any) -> str:
                return bearer

            def set(self, case: Any, data: str, ctx: Any) -> None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    elif world.session is not None:
        name, value, csrf_token = world.session

        @schema.auth()
        class BrowserSession:
            def get(self, case: Any, ctx: Any) -> tuple[str, str]:
                return value, csrf_token

            def set(self, case: Any, data: tuple[str, str], ctx: Any) -> None:
                case.cookies = {**(case.cookies or {}), name: data[0]}
                case.headers = {**(case.headers or {}), "X-CSRFToken": data[1]}

    return schema


@pytest.fixture
def member_world(_schema_app: Flask, mailbox: Mailbox) -> Iterator[World]:
    yield from _world(_schema_app, mailbox, "member")


def _sqlite_only(backend: str) -> None:
    """The refused callers' runs are about authorisation, decided before any input reaches the
    database; the member's run, on every backend, covers PostgreSQL's stricter types."""
    if backend != "sqlite":
        pytest.skip("refused callers are fuzzed on SQLite only (the member's run covers PostgreSQL)")


@pytest.fixture
def secretariat_world(_schema_app: Flask, mailbox: Mailbox, backend: str) -> Iterator[World]:
    _sqlite_only(backend)
    yield from _world(_schema_app, mailbox, "secretariat")


@pytest.fixture
def anonymous_world(_schema_app: Flask, mailbox: Mailbox, backend: str) -> Iterator[World]:
    _sqlite_only(backend)
    yield from _world(_schema_app, mailbox, "anonymous")


@pytest.fixture
def member_schema(member_world: World, _schema_app: Flask) -> schemathesis.BaseSchema:
    return _schema(member_world, _schema_app)


@pytest.fixture
def secretariat_schema(secretariat_world: World, _schema_app: Flask) -> schemathesis.BaseSchema:
    return _schema(secretariat_world, _schema_app)


@pytest.fixture
def anonymous_schema(anonymous_world: World, _schema_app: Flask) -> schemathesis.BaseSchema:
    return _schema(anonymous_world, _schema_app)


def _carries_nul(request: Any) -> bool:
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    return "%00" in request.url or b"\x00" in body or b"\\u0000" in body


def refused_to_anonymous(ctx: Any, response: Any, case: Any) -> bool | None:
    """Without a valid credential, every operation answers 401, 403 or 404 (never 2xx or 500).
    Before authentication, for everyone: 405 for a method the path does not have (Schemathesis
    tries a few), Flask's automatic answer to OPTIONS (the allowed methods, no content), and 400
    for a NUL character anywhere (ops.requestguard)."""
    status, sent = response.status_code, response.request
    if sent.method == "OPTIONS" and case.operation.method.upper() != "OPTIONS":
        assert status == 405 or (status == 200 and not response.content), f"OPTIONS answered {status}"
    elif sent.method != case.operation.method.upper():
        assert status == 405, f"{sent.method} {case.operation.path} answered {status}"
    elif _carries_nul(sent):
        assert status in (400, 401, 403, 404), f"{case.operation.label} answered {status}"
    else:
        assert status in (401, 403, 404), f"{case.operation.label} answered {status}"
    return None


@pytest.fixture(autouse=True)
def _node_id_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemathesis 4.32 (`from_fixture`) reads and renames the running test through
    `Node._nodeid`, which pytest 9.2 replaced by `Node._id`. A read-only alias for this module's
    tests: each operation is still reported as a subtest labelled with its method and path."""
    if not hasattr(pytest.Function, "_nodeid"):
        monkeypatch.setattr(pytest.Function, "_nodeid", property(lambda node: node.nodeid, lambda node, value: None),
                            raising=False)


def _settings(principal: str) -> settings:
    return settings(max_examples=EXAMPLES[principal], derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


member = schemathesis.pytest.from_fixture("member_schema")
secretariat = schemathesis.pytest.from_fixture("secretariat_schema")
anonymous = schemathesis.pytest.from_fixture("anonymous_schema")


@member.parametrize()
@_settings("member")
def test_fuzz_as_a_state_member_with_a_bearer_token(case: Any) -> None:
    case.call_and_validate()


@secretariat.parametrize()
@_settings("secretariat")
def test_fuzz_as_the_secretariat_with_a_browser_session(case: Any) -> None:
    case.call_and_validate()


@anonymous.parametrize()
@_settings("anonymous")
def test_fuzz_without_credentials(case: Any) -> None:
    case.call_and_validate(additional_checks=[refused_to_anonymous])


def test_values_beyond_the_columns_and_odd_digits_are_refused_cleanly(app, client, users) -> None:  # type: ignore[no-untyped-def]
    """Regressions the fuzz led to, pinned on every backend: ids, seqs and epochs beyond the
    INTEGER columns (PostgreSQL refused the query: a 500), query numbers in non-ASCII digits
    ("²" passed str.isdigit, then int() failed: a 500), and integer-valued JSON floats."""
    register_client(app)
    member_id = users["member_nl"].id
    dev = seed_keys(member_id)
    thread_id = seed_thread(member_id, "SEN")
    db.session.commit()
    token = obtain_tokens(app, users["member_nl"], scope="profile threads")["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    head = client.get(f"/api/v1/threads/{thread_id}", headers=bearer).get_json()["head"]
    add = event_payload(dev, head["seq"] + 1, unb64(head["hash"]), "add_user", users=[2 ** 40], epoch=2,
                        members=[member_id])
    assert client.post(f"/api/v1/threads/{thread_id}/events", headers=bearer, json=add).status_code == 400
    for path, status in [(f"/api/v1/users/{2 ** 31}/keys", 404), (f"/api/v1/users/{10 ** 30}/keys", 404),
                         (f"/api/v1/threads/{thread_id}/epochs/{2 ** 40}", 404),
                         (f"/api/v1/threads/{thread_id}/events?after={2 ** 31}", 400),
                         (f"/api/v1/threads/{thread_id}/messages?limit=%C2%B2", 400),
                         (f"/api/v1/threads/{thread_id}/messages?before={'9' * 5000}", 400)]:
        assert client.get(path, headers=bearer).status_code == status, path
    upload = client.post(f"/api/v1/threads/{thread_id}/attachments", headers=bearer,
                         json={"size": 1000.0, "part_size": 1000.0})
    assert upload.status_code == 201 and upload.get_json()["size"] == 1000
