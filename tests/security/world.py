"""Shared by the data-driven security tests: one signed-in client per role, real objects of
NLD, SEN and the organisations to put into URL arguments, and the policy each view declares.

Everything is derived from the application's URL map, so routes added later (membership
administration, plugins, WebAuthn) are exercised without editing these tests; an argument
name nobody knows how to fill makes the tests fail and say which one.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import JSON, Boolean, Date, DateTime, Enum, Integer, LargeBinary, String, Text, UniqueConstraint, delete, select, update
from werkzeug.routing import Rule

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party
from cooperation.security.models import WebAuthnCredential, WebSession
from cooperation.security.sessions import hash_token
from tests.conftest import AuthActions, CommittingClient, csrf_from
from tests.factories import make_user

STATE_ROLES = ("focal_nl", "member_nl", "focal_sn", "member_sn")
ORG_ROLES = ("admin", "editor", "court")
ROLE_NAMES = (*ORG_ROLES, *STATE_ROLES)
OTHER_STATE = {"NLD": "SEN", "SEN": "NLD"}
# Organisation roles act on State data as outsiders; their objects are taken from NLD.
ORG_SCOPE_STATE = "NLD"
# ...except where a role keeps its own organisation's objects: permission -> those roles (the
# Registry editor keeps the Registry's contact points; the Secretariat, any State's, stays on NLD).
OWN_ORGANISATION_SCOPE: dict[str, frozenset[str]] = {"directory:contacts:manage": frozenset({"editor"})}
METHODS = ("GET", "POST")
# Arguments naming an object that belongs to one State or one user: another State's user must
# never reach it (404). Party codes and ids are not secret; they are checked only on pages that
# change something (see cross_state_applies).
PRIVATE_ARGS_SUFFIX = ("_id", "id_hash", "token")
READ_ACTIONS = ("read", "view")
# POST endpoints without a CSRF check, on purpose: the OAuth endpoints of the Python client
# (no cookie, authenticated by client id + device code or token; see cooperation/oauth/views.py).
CSRF_EXEMPT_ENDPOINTS = frozenset({"oauth.device_authorization", "oauth.token", "oauth.revoke"})


@dataclass
class Principal:
    name: str  # a key of the `users` fixture, or "anonymous"
    client: FlaskClient
    user: SimpleNamespace | None = None  # id, email, totp_secret, party_code, role
    csrf: str = ""
    saved: dict[str, Any] | None = None  # the signed-in session row and cookie, to restore

    @property
    def role(self) -> p.Role | None:
        return self.user.role if self.user else None


def snapshot(user: User) -> SimpleNamespace:
    return SimpleNamespace(id=user.id, email=user.email, totp_secret=user.totp_secret,
                           party_code=user.party.code, role=user.role)


def new_client(app: Flask) -> FlaskClient:
    app.test_client_class = CommittingClient
    return app.test_client()


def sign_in(principal: Principal) -> None:
    """Sign in through the real forms. The last-used TOTP step is reset first: these tests
    sign the same user in again and again and are not about code replay."""
    assert principal.user is not None
    db.session.execute(update(User).where(User.id == principal.user.id).values(totp_last_step=None))
    db.session.commit()
    AuthActions(principal.client).login(principal.user)
    principal.csrf = csrf_from(principal.client.get("/account/security").get_data(as_text=True))
    cookie = principal.client.get_cookie("session")
    assert cookie is not None
    row = db.session.get(WebSession, hash_token(cookie.value))
    assert row is not None
    principal.saved = {"token": cookie.value, **{c.key: getattr(row, c.key) for c in WebSession.__table__.columns}}
    db.session.commit()


def restore(principal: Principal) -> None:
    """Put the signed-in session back as it was (cheaper than signing in again: Argon2)."""
    assert principal.saved is not None and principal.user is not None
    saved = dict(principal.saved)
    token = saved.pop("token")
    db.session.execute(delete(WebSession).where(WebSession.id_hash == saved["id_hash"]))
    db.session.add(WebSession(**{**saved, "last_seen_at": utcnow()}))
    db.session.commit()
    principal.client.set_cookie("session", token)


def anonymous_csrf(principal: Principal) -> None:
    principal.csrf = csrf_from(principal.client.get("/login").get_data(as_text=True))


def still_signed_in(principal: Principal) -> bool:
    cookie = principal.client.get_cookie("session")
    if cookie is None or principal.user is None:
        return False
    data = db.session.scalar(select(WebSession.data).where(WebSession.id_hash == hash_token(cookie.value)))
    db.session.commit()
    return bool(data) and str(data.get("_user_id")) == str(principal.user.id)


def ensure_state(principal: Principal) -> None:
    """After a request that signed the client out (logout, "sign out everywhere", opening an
    invitation link), sign it in again so the next check runs with the intended role."""
    if principal.user is None:
        if principal.client.get_cookie("session") is None:
            anonymous_csrf(principal)
        return
    if not still_signed_in(principal):
        restore(principal)
        assert still_signed_in(principal)


def make_principals(app: Flask, users: dict[str, User]) -> dict[str, Principal]:
    principals = {}
    for name in ROLE_NAMES:
        principal = Principal(name, new_client(app), snapshot(users[name]))
        sign_in(principal)
        principals[name] = principal
    anonymous = Principal("anonymous", new_client(app))
    anonymous_csrf(anonymous)
    principals["anonymous"] = anonymous
    return principals


# -- policy ---------------------------------------------------------------------------------------

def expectation(app: Flask, endpoint: str, principal: Principal) -> str:
    """public | login | deny | allow, from what the view declares and the role's grants."""
    view = app.view_functions[endpoint]
    if getattr(view, "is_public", False):
        return "public"
    if principal.user is None:
        return "login"
    if getattr(view, "any_authenticated", False):
        return "allow"
    required = getattr(view, "required_permission", None)
    assert required is not None, f"{endpoint} declares nothing"
    return "allow" if str(required) in p.permissions_for(principal.role) else "deny"


def scope_code(app: Flask, endpoint: str, principal: Principal) -> str:
    """The State (or organisation) whose objects the principal may legitimately act on there."""
    assert principal.user is not None
    code = principal.user.party_code
    if code in OTHER_STATE:
        return code
    required = getattr(app.view_functions[endpoint], "required_permission", None)
    if principal.name in OWN_ORGANISATION_SCOPE.get(str(required), frozenset()):
        return code
    return ORG_SCOPE_STATE


def is_read_only_permission(app: Flask, endpoint: str) -> bool:
    required = getattr(app.view_functions[endpoint], "required_permission", None)
    return required is not None and str(required).rsplit(":", 1)[-1] in READ_ACTIONS


def checked_rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in METHODS:
            if method in (rule.methods or ()):
                yield rule, method


# -- objects ----------------------------------------------------------------------------------------

@dataclass
class Objects:
    """Makes a fresh object for each URL argument, in a given State (or organisation) and for a
    given owner, so one check never depends on what an earlier check changed or deleted."""

    app: Flask
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    unknown: set[str] = field(default_factory=set)
    # Set when the last values() used the generic maker: such a row may be, say, an unpublished
    # draft, so a 404 for an allowed role proves nothing; only server errors are judged then.
    generic: bool = False

    def party(self, code: str) -> Party:
        found = db.session.scalar(select(Party).where(Party.code == code))
        assert found is not None, code
        return found

    def values(self, rule: Rule, party_code: str, owner_id: int) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        self.generic = False
        self._parents: dict[str, Any] = {}  # one parent per table per URL: a consistent graph
        for arg in sorted(rule.arguments):
            made = self.make(arg, party_code, owner_id)
            if made is None:
                self.unknown.add(f"{rule.endpoint}:<{arg}>")
                return None
            values[arg] = made
        db.session.commit()
        return values

    def make(self, arg: str, party_code: str, owner_id: int) -> Any:
        makers: dict[str, Callable[[str, int], Any]] = {
            "user_id": lambda code, _: self.user(code).id,
            "invitation_id": lambda code, _: self.invitation(code)[0],
            "token": lambda code, _: self.invitation(code)[1],
            "party_id": lambda code, _: self.party(code).id,
            "code": lambda code, _: code,
            "party_code": lambda code, _: code,
            "id_hash": lambda _, owner: self.web_session(owner),
            "credential_id": lambda _, owner: self.credential(owner),
        }
        if arg in makers:
            return makers[arg](party_code, owner_id)
        from tests.functional.questionnaire_fixtures import WORLD_ARGS, make_world_object

        if arg in WORLD_ARGS:
            return make_world_object(self.app, arg, party_code)
        if arg in EXTRA_MAKERS:
            return EXTRA_MAKERS[arg](self, party_code, owner_id)
        self.generic = True
        if arg.endswith("_id"):
            return self.generic_row(arg[: -len("_id")], party_code, owner_id)
        return self.generic_value(arg, party_code, owner_id)

    def user(self, code: str) -> User:
        from cooperation.accounts.services import allowed_roles

        party = self.party(code)
        return make_user(code, allowed_roles(party)[0], f"target{next(self.counter)}@{code.lower()}.test")

    def invitation(self, code: str) -> tuple[int, str]:
        from cooperation.accounts import services
        from cooperation.audit.service import Actor

        party = self.party(code)
        # The test's own session: inside a request context db.session would be another one.
        session = db.session()
        with self.app.test_request_context():
            issued = services.create_invitation(
                session, email=f"invitee{next(self.counter)}@{code.lower()}.test", full_name="Invitee",
                party=party, role=services.allowed_roles(party)[0], inviter=None,
                actor=Actor.system("test"), send=False)
        token = issued.link.rsplit("/", 1)[-1]
        return issued.invitation.id, token

    def web_session(self, owner_id: int) -> str:
        id_hash = hash_token(secrets.token_urlsafe(32))
        now = utcnow()
        from datetime import timedelta

        db.session.add(WebSession(id_hash=id_hash, user_id=owner_id, data={"_user_id": str(owner_id)},
                                  created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=1),
                                  ip_address="192.0.2.9", user_agent="other browser"))
        db.session.flush()
        return id_hash

    def credential(self, owner_id: int) -> int:
        key = WebAuthnCredential(user_id=owner_id, credential_id=secrets.token_bytes(32),
                                 public_key=secrets.token_bytes(77), sign_count=0, transports=[],
                                 name=f"key {next(self.counter)}", created_at=utcnow())
        db.session.add(key)
        db.session.flush()
        return key.id

    def generic_row(self, name: str, party_code: str, owner_id: int) -> int | None:
        """A row of the model whose table name contains `name` (e.g. contact_id ->
        directory_contact_point), filled with plain values, in the State and for the owner."""
        table = _table_for(name)
        if table is None:
            return None
        return int(self.row(table, party_code, owner_id).id)

    def generic_value(self, arg: str, party_code: str, owner_id: int) -> Any:
        """A string argument naming a column (e.g. <slug>): the value of a fresh row's column."""
        tables = sorted((t for t in db.metadata.sorted_tables if arg in t.columns), key=lambda t: len(t.name))
        if not tables:
            return None
        return getattr(self.row(tables[0], party_code, owner_id), arg)

    def _parent(self, table: Any, party_code: str, owner_id: int, fresh: bool = False) -> Any:
        if fresh:  # the child's foreign key is unique on its own: each child needs its own parent
            return self.row(table, party_code, owner_id)
        parents = self.__dict__.setdefault("_parents", {})
        if table.name not in parents:
            parents[table.name] = self.row(table, party_code, owner_id)
        return parents[table.name]

    def row(self, table: Any, party_code: str, owner_id: int) -> Any:
        mapper = next(m for m in db.Model.registry.mappers if m.local_table is table)
        values = _plain_values(table, self.party(party_code).id, owner_id, next(self.counter),
                               parent=lambda t, fresh=False: self._parent(t, party_code, owner_id, fresh))
        row = mapper.class_(**values)
        db.session.add(row)
        db.session.flush()
        return row


# Module owners: teach the tests how to make a meaningful object for an argument the generic
# maker cannot (e.g. one that must be published to be visible): name -> (objects, party, owner).
EXTRA_MAKERS: dict[str, Callable[[Objects, str, int], Any]] = {}


def _published_caselaw_slug(objects: Objects, party_code: str, owner_id: int) -> str:
    """<slug> of the case-law pages: a published explainer, so readers must get the page."""
    from datetime import date

    from cooperation.audit.service import Actor
    from cooperation.caselaw.seed import publish_imported
    from cooperation.caselaw.services import Content
    from cooperation.caselaw.taxonomy import ItemKind, Language

    content = Content(title="Matrix explainer", chamber="appeals", decision_date=date(2016, 2, 15),
                      holding="A holding.")
    item = publish_imported(db.session, kind=ItemKind.EXPLAINER, language=Language.EN,
                            slug=f"matrix-item-{next(objects.counter)}", content=content,
                            actor=Actor.system("test"))
    return item.slug


EXTRA_MAKERS["slug"] = _published_caselaw_slug


def _live_api_grant(objects: Objects, party_code: str, owner_id: int) -> int:
    """<grant_id> of "revoke an API token": a live grant of the owner (another user: 404)."""
    from datetime import timedelta

    from cooperation.audit.service import Actor
    from cooperation.oauth import services as oauth
    from cooperation.oauth.models import OAuthGrant

    client = oauth.ensure_cli_client(db.session, Actor.system("test"))
    grant = OAuthGrant(client_pk=client.id, user_id=owner_id, scope="profile", created_at=utcnow(),
                       expires_at=utcnow() + timedelta(days=1))
    db.session.add(grant)
    db.session.flush()
    return grant.id


EXTRA_MAKERS["grant_id"] = _live_api_grant


def _thread_for(objects: Objects, party_code: str, owner_id: int) -> str:
    """<thread_id>: a thread of the owner's with `party_code` taking part (one per URL, shared
    with <attachment_id>); other users, the Secretariat and other States get 404."""
    from tests.functional.test_threads_api_kit import seed_thread

    parents = objects.__dict__.setdefault("_parents", {})
    if "thread" not in parents:
        parents["thread"] = seed_thread(owner_id, party_code)
    return parents["thread"]


def _thread_attachment(objects: Objects, party_code: str, owner_id: int) -> str:
    from tests.functional.test_threads_api_kit import seed_attachment

    return seed_attachment(objects.app, _thread_for(objects, party_code, owner_id), owner_id)


def _own_device(objects: Objects, party_code: str, owner_id: int) -> str:
    """<device_id>: one of the owner's registered E2E devices."""
    from tests.functional.test_threads_api_kit import seed_keys

    return seed_keys(owner_id).device_id


def _waiting_browser(objects: Objects, party_code: str, owner_id: int) -> str:
    """<request_id>: a browser of the owner's waiting for approval (PROTOCOL.md §8a)."""
    from tests.functional.test_threads_api_kit import seed_approval

    return seed_approval(owner_id)


def _travel_report(objects: Objects, party_code: str, owner_id: int) -> int:
    """<report_id> of the travel plugin: a report sent by the owner if a user of `party_code`
    (else by a new user of it), received by every Court user (the owner included when he or she
    is one). Other States' users and the Secretariat get 404."""
    from tests.functional.test_travel import seed_report

    owner = db.session.get(User, owner_id)
    court = [u.id for u in db.session.scalars(select(User).join(User.party).where(
        Party.code.in_(("ICC-OTP", "ICC-REG")), User.role.in_((p.Role.COURT_MEMBER, p.Role.REGISTRY_EDITOR))))]
    if not court:  # a world without the Court (e.g. the CSRF test's): one Court user
        court = [make_user("ICC-OTP", p.Role.COURT_MEMBER, f"court{next(objects.counter)}@otp.test").id]
    reporter = owner if owner.party.code == party_code else objects.user(party_code)
    return seed_report(reporter.id, court)


EXTRA_MAKERS["report_id"] = _travel_report
EXTRA_MAKERS["thread_id"] = _thread_for
EXTRA_MAKERS["attachment_id"] = _thread_attachment
EXTRA_MAKERS["device_id"] = _own_device
EXTRA_MAKERS["request_id"] = _waiting_browser
EXTRA_MAKERS["epoch"] = lambda objects, code, owner: 1  # every seeded thread has epoch 1
EXTRA_MAKERS["number"] = lambda objects, code, owner: 0


def _table_for(name: str) -> Any:
    """The table an `<name>_id` argument points at: the target of foreign keys called
    `<name>_id` if the schema has any, else the shortest table whose name contains `name`."""
    referred = sorted({fk.column.table.name for t in db.metadata.sorted_tables
                       for c in t.columns if c.name == f"{name}_id" for fk in c.foreign_keys})
    if len(referred) == 1:
        return db.metadata.tables[referred[0]]
    tables = sorted((t for t in db.metadata.sorted_tables if name in t.name.split("_")),
                    key=lambda t: (len(t.name), t.name))
    return tables[0] if tables else None


def _unique_alone(table: Any, column: Any) -> bool:
    """Whether the column is unique by itself (e.g. one travel report per thread)."""
    return bool(column.unique) or any(
        isinstance(c, UniqueConstraint) and [col.name for col in c.columns] == [column.name]
        for c in table.constraints)


def _plain_values(table: Any, party_id: int, owner_id: int, n: int,
                  parent: Callable[..., Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            # A client-chosen string id (a thread's 16 random bytes as hex) has no default.
            if isinstance(column.type, String) and column.default is None and not column.foreign_keys:
                values[column.key] = secrets.token_hex(16)[: column.type.length or 32]
            continue
        targets = {fk.column.table.name for fk in column.foreign_keys}
        if "party" in targets:
            values[column.key] = party_id
            continue
        if "user_account" in targets:
            values[column.key] = owner_id
            continue
        if column.nullable or column.default is not None or column.server_default is not None:
            continue
        if targets and parent is not None:
            fk = next(iter(column.foreign_keys))
            values[column.key] = getattr(parent(fk.column.table, _unique_alone(table, column)), fk.column.key)
            continue
        kind = column.type
        if isinstance(kind, Enum):
            values[column.key] = kind.enums[0]
        elif isinstance(kind, String | Text):
            length = getattr(kind, "length", None) or 40
            values[column.key] = (f"{column.key}-{n}@example.test" if "email" in column.key
                                  else f"{column.key} {n}")[:length]
        elif isinstance(kind, Boolean):
            values[column.key] = False
        elif isinstance(kind, Integer):
            values[column.key] = 0
        elif isinstance(kind, DateTime) or "datetime" in type(kind).__name__.lower():
            values[column.key] = utcnow()
        elif isinstance(kind, Date):
            values[column.key] = utcnow().date()
        elif isinstance(kind, LargeBinary):
            values[column.key] = secrets.token_bytes(16)
        elif isinstance(kind, JSON):
            values[column.key] = {}
        else:
            raise AssertionError(f"cannot fill {table.name}.{column.key} ({kind!r}); extend tests/security/world.py")
    return values


def request(principal: Principal, method: str, path: str) -> Any:
    if method == "GET":
        response = principal.client.get(path)
    else:
        response = principal.client.post(path, data={"csrf_token": principal.csrf},
                                         headers={"X-CSRFToken": principal.csrf})
    # Read streamed bodies (CSV exports) to the end, as a browser would, and release them.
    response.get_data()
    response.close()
    return response
