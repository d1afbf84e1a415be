"""OAuth 2.0 tables: registered clients, pending device authorizations, grants and tokens.

Nothing secret is stored in clear: device codes and tokens (>= 256 bits of randomness) are kept
as SHA-256; user codes (8 letters, about 34 bits) as an HMAC keyed with the application secret,
so a copy of the database alone does not let anyone enumerate them offline.

A *grant* is one approval by a user of one client (a "token family"): refreshing replaces its
token row (rotation), revoking the grant kills every token issued under it at once.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.accounts.models import User
from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import _enum


class OAuthClient(db.Model):  # type: ignore[name-defined,misc]
    """A registered client. Public clients (the Python client) have no secret: they are
    authenticated only by the device code the user approved."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_scope: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # -- authlib ClientMixin ----------------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # device flow only: no redirects

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.allowed_scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public client: there is no secret to present

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none" and self.disabled_at is None

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return self.disabled_at is None and grant_type in (self.grant_types or [])


class DeviceStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    USED = "used"  # a token was issued: the device code is spent


class DeviceAuthorization(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth_device_authorization"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requested_scope: Mapped[str] = mapped_column(String(500), default="")
    granted_scope: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[DeviceStatus] = mapped_column(_enum(DeviceStatus, "oauth_device_status"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                                index=True, nullable=True)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    client: Mapped[OAuthClient] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship()

    # -- authlib DeviceCredentialMixin --------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client.client_id

    def get_scope(self) -> str:
        return self.granted_scope

    def get_user_code(self) -> str:
        raise NotImplementedError("only a keyed hash of the user code is stored")

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at


class OAuthGrant(db.Model):  # type: ignore[name-defined,misc]
    """One user's approval of one client: what the sessions page lists and revokes."""

    __tablename__ = "oauth_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the live refresh token's expiry
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)

    client: Mapped[OAuthClient] = relationship(lazy="joined")
    user: Mapped[User] = relationship()


class OAuthToken(db.Model):  # type: ignore[name-defined,misc]
    """An access token and its refresh token, issued under a grant. A refreshed (rotated) row
    keeps `rotated_at`: presenting its refresh token again reveals a stolen copy."""

    __tablename__ = "oauth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("oauth_grant.id", ondelete="CASCADE"), index=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    scope: Mapped[str] = mapped_column(String(500))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    grant: Mapped[OAuthGrant] = relationship(lazy="joined")

    # -- authlib TokenMixin (refresh and revocation endpoints) -----------------------------------------
    def check_client(self, client: OAuthClient) -> bool:
        return self.grant.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(int((self.access_expires_at - utcnow()).total_seconds()), 0)

    def is_expired(self) -> bool:
        return utcnow() >= self.access_expires_at

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.grant.revoked_at is not None

    def get_user(self) -> User:
        return self.grant.user
