"""OAuth business rules: device authorizations, approvals, token families, revocation.

Like every service here: takes a Session, records audit entries in the same transaction and
never commits. Audit details name ids, the client and scopes; never a token or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.oauth import scopes
from cooperation.oauth.models import (
    DeviceAuthorization,
    DeviceStatus,
    OAuthClient,
    OAuthGrant,
    OAuthToken,
)
from cooperation.ops.models import RateLimitHit
from cooperation.ops.ratelimit import Limit
from cooperation.permissions import permissions_for

CLI_CLIENT_ID = "cooperation-cli"
CLI_CLIENT_NAME = "Cooperation Python client"
DEVICE_CODE_LIFETIME = timedelta(minutes=10)
POLL_INTERVAL = 5  # seconds; RFC 8628 3.5: +5 s on every slow_down
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
# However often it is refreshed, an approval ends this long after the user gave it (in the
# browser, after their second factor): the client must be approved again (ASVS 10.4.8).
GRANT_LIFETIME = timedelta(days=90)
# RFC 8628 6.1: consonants only (no vowels, so no words; no 0/O, 1/I ambiguity); 20^8 ~ 2^34.6.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


class OAuthError(ValueError):
    """A refused step on the verification page; the message is safe to show."""


def hash_secret(value: str) -> str:
    """SHA-256 for high-entropy secrets (device codes, tokens)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_user_code(normalised: str) -> str:
    """Keyed: user codes are short enough to enumerate from a bare hash."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"oauth-user-code:" + normalised.encode("ascii"), hashlib.sha256).hexdigest()


def new_user_code() -> str:
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_user_code(text: str | None) -> str | None:
    """What the user typed -> 8 letters of the alphabet, or None. Case, spaces and dashes
    do not matter (people copy "wxyz-bcdf" or "WXYZ BCDF")."""
    letters = "".join(ch for ch in (text or "").upper() if ch not in " -\t")
    if len(letters) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return None
    return letters


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


# -- clients ------------------------------------------------------------------------------------

def ensure_cli_client(session: Session, actor: Actor) -> OAuthClient:
    """Register (or update) the public client used by the Python client; idempotent."""
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == CLI_CLIENT_ID))
    allowed = scopes.to_string(scopes.SCOPES)
    grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
    if client is None:
        client = OAuthClient(client_id=CLI_CLIENT_ID, name=CLI_CLIENT_NAME, grant_types=grant_types,
                             allowed_scope=allowed)
        session.add(client)
        session.flush()
        record(session, "oauth.client.register", actor, target_type="oauth_client", target_id=client.id,
               details={"client_id": CLI_CLIENT_ID})
    else:
        client.grant_types, client.allowed_scope, client.disabled_at = grant_types, allowed, None
    return client


def find_client(session: Session, client_id: str) -> OAuthClient | None:
    if not client_id or len(client_id) > 64:
        return None
    return session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id,
                                                    OAuthClient.disabled_at.is_(None)))


# -- device authorizations -----------------------------------------------------------------------

def create_device_authorization(session: Session, client: OAuthClient, scope: str, device_code: str,
                                user_code: str) -> DeviceAuthorization:
    normalised = normalise_user_code(user_code)
    assert normalised is not None, "generated user codes are always well formed"
    now = utcnow()
    device = DeviceAuthorization(
        client_pk=client.id, device_code_hash=hash_secret(device_code),
        user_code_hash=hash_user_code(normalised), requested_scope=scopes.to_string(scope.split()),
        status=DeviceStatus.PENDING, interval=POLL_INTERVAL, created_at=now,
        expires_at=now + DEVICE_CODE_LIFETIME)
    session.add(device)
    session.flush()
    return device


def user_code_in_use(session: Session, user_code: str) -> bool:
    normalised = normalise_user_code(user_code)
    return normalised is None or session.scalar(select(DeviceAuthorization.id).where(
        DeviceAuthorization.user_code_hash == hash_user_code(normalised))) is not None


def find_pending(session: Session, user_code: str) -> DeviceAuthorization | None:
    """The live, undecided authorization with this user code, or None."""
    normalised = normalise_user_code(user_code)
    if normalised is None:
        return None
    device = session.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.user_code_hash == hash_user_code(normalised)))
    if device is None or device.status != DeviceStatus.PENDING or device.is_expired():
        return None
    return device


@dataclass(frozen=True)
class ScopeReview:
    granted: list[str]  # what approving gives the client
    refused: list[str]  # requested, but beyond the user's role


def review_scopes(device: DeviceAuthorization, user: User) -> ScopeReview:
    requested = scopes.parse(device.requested_scope)
    granted = scopes.allowed_for(requested, permissions_for(user.role))
    return ScopeReview(granted, [s for s in requested if s not in granted])


def decide(session: Session, device: DeviceAuthorization, user: User, approve: bool, actor: Actor) -> None:
    if device.status != DeviceStatus.PENDING or device.is_expired():
        from flask_babel import gettext as _

        raise OAuthError(_("This code has expired or was already used. Start again on the device."))
    review = review_scopes(device, user)
    if approve and not review.granted:
        from flask_babel import gettext as _

        raise OAuthError(_("Your role does not allow any of the access this client asks for."))
    device.user_id = user.id
    device.decided_at = utcnow()
    device.status = DeviceStatus.APPROVED if approve else DeviceStatus.DENIED
    device.granted_scope = scopes.to_string(review.granted) if approve else ""
    record(session, "oauth.device.approve" if approve else "oauth.device.deny", actor,
           target_type="oauth_device_authorization", target_id=device.id,
           details={"client": device.client.name, "scopes": review.granted if approve else [],
                    "refused_scopes": review.refused})


# -- tokens ---------------------------------------------------------------------------------------

def current_scope(user: User, scope: str) -> str:
    """Re-check at every issue: a role may have shrunk since the approval."""
    return scopes.to_string(scopes.allowed_for(scope.split(), permissions_for(user.role)))


def store_token(session: Session, grant: OAuthGrant, token: dict[str, object]) -> OAuthToken:
    now = utcnow()
    refresh = token.get("refresh_token")
    ends = grant_ends(grant)
    row = OAuthToken(
        grant_id=grant.id, access_token_hash=hash_secret(str(token["access_token"])),
        refresh_token_hash=hash_secret(str(refresh)) if refresh else None,
        scope=str(token.get("scope") or grant.scope), issued_at=now,
        access_expires_at=min(now + timedelta(seconds=int(token.get("expires_in") or 0)), ends),
        refresh_expires_at=min(now + REFRESH_TOKEN_LIFETIME, ends) if refresh else None)
    if "expires_in" in token:  # the answer Authlib sends is this dict: say when it really ends
        token["expires_in"] = max(0, int((row.access_expires_at - now).total_seconds()))
    session.add(row)
    grant.expires_at = row.refresh_expires_at or row.access_expires_at
    session.flush()
    return row


def grant_ends(grant: OAuthGrant) -> datetime:
    """The absolute end of an approval: no token issued under it outlives this."""
    return grant.created_at + GRANT_LIFETIME


def open_grant(session: Session, device: DeviceAuthorization, user: User, scope: str) -> OAuthGrant:
    now = utcnow()
    grant = OAuthGrant(client_pk=device.client_pk, user_id=user.id, scope=scope, created_at=now,
                       expires_at=now + REFRESH_TOKEN_LIFETIME)
    session.add(grant)
    device.status = DeviceStatus.USED  # the device code is spent, whatever happens next
    session.flush()
    return grant


def find_refresh_token(session: Session, refresh_token: str) -> OAuthToken | None:
    # FOR UPDATE: two concurrent refreshes with one token must not both succeed (PostgreSQL;
    # SQLite serialises writers with BEGIN IMMEDIATE already).
    return session.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == hash_secret(refresh_token))
                          .with_for_update(of=OAuthToken))


def find_token(session: Session, value: str, hint: str | None) -> OAuthToken | None:
    digest = hash_secret(value)
    if hint == "access_token":
        clause = OAuthToken.access_token_hash == digest
    elif hint == "refresh_token":
        clause = OAuthToken.refresh_token_hash == digest
    else:
        clause = or_(OAuthToken.access_token_hash == digest, OAuthToken.refresh_token_hash == digest)
    return session.scalar(select(OAuthToken).where(clause))


def refresh_usable(row: OAuthToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (row.rotated_at is None and not row.is_revoked() and row.refresh_expires_at is not None
            and now < row.refresh_expires_at and now < grant_ends(row.grant) and row.grant.user.is_active)


def rotate(session: Session, old: OAuthToken) -> None:
    now = utcnow()
    old.rotated_at = now
    old.revoked_at = now


def revoke_grant(session: Session, grant: OAuthGrant, actor: Actor, reason: str) -> None:
    if grant.revoked_at is not None:
        return
    now = utcnow()
    grant.revoked_at, grant.revoked_reason = now, reason
    session.execute(update(OAuthToken).where(OAuthToken.grant_id == grant.id, OAuthToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    record(session, "oauth.token.revoke", actor, target_type="oauth_grant", target_id=grant.id,
           details={"client": grant.client.name, "reason": reason, "user_id": grant.user_id})


def revoke_all_for_user(session: Session, user_id: int, actor: Actor, reason: str) -> int:
    """Suspension, "sign out everywhere": every live grant of the user ends now."""
    grants = session.scalars(select(OAuthGrant).where(OAuthGrant.user_id == user_id,
                                                      OAuthGrant.revoked_at.is_(None))).all()
    for grant in grants:
        revoke_grant(session, grant, actor, reason)
    return len(grants)


def live_grants(session: Session, user_id: int) -> list[OAuthGrant]:
    now = utcnow()
    return list(session.scalars(select(OAuthGrant).where(
        OAuthGrant.user_id == user_id, OAuthGrant.revoked_at.is_(None), OAuthGrant.expires_at > now)
        .order_by(OAuthGrant.created_at.desc())))


def grant_of_user(session: Session, grant_id: int, user_id: int) -> OAuthGrant | None:
    grant = session.get(OAuthGrant, grant_id)
    return grant if grant is not None and grant.user_id == user_id else None


# -- throttling wrong user codes ----------------------------------------------------------------------

def failures_exceeded(session: Session, key: str, limit: Limit, now: datetime | None = None) -> bool:
    """Whether `key` already has `limit.count` recorded failures in the window. Failures are
    recorded with ratelimit.hit(), which shares its rows with every instance."""
    now = now or utcnow()
    count = session.scalar(select(func.count()).select_from(RateLimitHit).where(
        RateLimitHit.key == key, RateLimitHit.created_at > now - limit.window))
    return (count or 0) >= limit.count


# -- bearer authentication -------------------------------------------------------------------------

@dataclass(frozen=True)
class BearerAccess:
    token_id: int
    grant_id: int
    user_id: int
    scopes: tuple[str, ...]
    permissions: frozenset[str]


def authenticate_access_token(session: Session, value: str) -> tuple[User, BearerAccess] | None:
    """The live token's user and what it may do, or None (unknown, expired, revoked, or the
    user or their State no longer active)."""
    if not value or len(value) > 200:
        return None
    row = session.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == hash_secret(value)))
    if row is None or row.is_revoked() or row.is_expired():
        return None
    user = row.grant.user
    if user is None or not user.is_active:
        return None
    names = tuple(scopes.parse(row.scope))
    return user, BearerAccess(row.id, row.grant_id, user.id, names, scopes.permissions_of(names))
