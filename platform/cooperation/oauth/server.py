"""The Authlib authorization server: RFC 8628 device grant, refresh tokens with rotation and
reuse detection, RFC 7009 revocation. Only public clients ("none" authentication) exist: the
Python client cannot keep a secret; what authenticates it is the device code the user approved.

The OAuth endpoints read parameters from the form body only (RFC 6749 3.2: never the query
string, which ends up in logs)."""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc8628 import (
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    ExpiredTokenError,
    SlowDownError,
)
from flask import Flask, url_for
from flask import request as flask_request
from sqlalchemy import select

from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.oauth import scopes, services
from cooperation.oauth.models import DeviceAuthorization, DeviceStatus, OAuthClient, OAuthToken


class _FormPayload(FlaskOAuth2Payload):
    @property
    def data(self):  # type: ignore[no-untyped-def]
        return self._request.form


class _FormRequest(FlaskOAuth2Request):
    def __init__(self, request: Any) -> None:
        super().__init__(request)
        self.payload = _FormPayload(request)


class CooperationAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def create_oauth2_request(self, request: Any) -> _FormRequest:
        return _FormRequest(flask_request)

    def validate_requested_scope(self, scope: str | None) -> None:
        # At least one scope, all of them known: a client gets nothing by default.
        if not scope or not scopes.parse(scope) or scopes.unknown(scope):
            raise InvalidScopeError()

    def query_client(self, client_id: str) -> OAuthClient | None:
        return services.find_client(db.session, client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store hashes of the new tokens under the right grant, and audit the issue."""
        actor = request_actor(request.user)
        old: OAuthToken | None = request.refresh_token
        if old is not None:
            grant = old.grant
            services.store_token(db.session, grant, token)
            action = "oauth.token.refresh"
        else:
            device: DeviceAuthorization = request.credential
            grant = services.open_grant(db.session, device, request.user, str(token.get("scope") or ""))
            services.store_token(db.session, grant, token)
            action = "oauth.token.issue"
        grant.last_used_at = utcnow()
        record(db.session, action, actor, target_type="oauth_grant", target_id=grant.id,
                        details={"client": grant.client.name, "scopes": scopes.parse(grant.scope)})


class DeviceCodeGrantType(DeviceCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def query_device_credential(self, device_code: str) -> DeviceAuthorization | None:
        if not device_code or len(device_code) > 200:
            return None
        return db.session.scalar(select(DeviceAuthorization).where(
            DeviceAuthorization.device_code_hash == services.hash_secret(device_code))
            .with_for_update(of=DeviceAuthorization))

    def validate_device_credential(self, credential: DeviceAuthorization) -> Any:
        """The stored decision, not a user code (only its keyed hash is kept)."""
        now = utcnow()
        if credential.status == DeviceStatus.USED:
            raise InvalidGrantError("The device code was already used.")
        if credential.is_expired():
            raise ExpiredTokenError()
        if credential.status == DeviceStatus.DENIED:
            raise AccessDeniedError()
        if credential.status == DeviceStatus.APPROVED:
            user = credential.user
            if user is None or not user.is_active or not services.current_scope(user, credential.granted_scope):
                raise AccessDeniedError()
            return user
        last, credential.last_polled_at = credential.last_polled_at, now
        if last is not None and (now - last).total_seconds() < credential.interval:
            credential.interval += services.POLL_INTERVAL  # RFC 8628 3.5
            raise SlowDownError()
        raise AuthorizationPendingError()

    def create_token_response(self):  # type: ignore[no-untyped-def]
        client, user = self.request.client, self.request.user
        scope = services.current_scope(user, self.request.credential.get_scope())
        token = self.generate_token(user=user, scope=scope,
                                    include_refresh_token=client.check_grant_type("refresh_token"))
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrantType(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh token is good for one use

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        row = services.find_refresh_token(db.session, refresh_token)
        if row is None:
            return None
        if row.rotated_at is not None:
            # A refresh token used twice: one of the two holders is not the client. End the
            # whole family so the thief's fresh tokens die too (RFC 9700 4.14.2).
            services.revoke_grant(db.session, row.grant, request_actor(row.grant.user), "refresh_reuse")
            return None
        return row if services.refresh_usable(row) else None

    def authenticate_user(self, refresh_token: OAuthToken) -> Any:
        user = refresh_token.get_user()
        return user if user.is_active else None

    def issue_token(self, user: Any, refresh_token: OAuthToken) -> dict[str, Any]:
        scope = self.request.payload.scope or refresh_token.get_scope()
        return self.generate_token(user=user, scope=services.current_scope(user, scope),
                                   include_refresh_token=True)

    def revoke_old_credential(self, refresh_token: OAuthToken) -> None:
        services.rotate(db.session, refresh_token)


class DeviceAuthorization8628(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["none"]
    EXPIRES_IN = int(services.DEVICE_CODE_LIFETIME.total_seconds())
    INTERVAL = services.POLL_INTERVAL

    def generate_device_code(self) -> str:
        return services.new_opaque_token()

    def generate_user_code(self) -> str:
        code = services.new_user_code()
        while services.user_code_in_use(db.session, code):  # 1 in 2^34: practically never
            code = services.new_user_code()
        return code

    def get_verification_uri(self) -> str:
        return url_for("oauth.verify", _external=True)

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        client = services.find_client(db.session, client_id)
        assert client is not None  # authenticated just before
        device = services.create_device_authorization(db.session, client, scope, data["device_code"],
                                                      data["user_code"])
        record(db.session, "oauth.device.start", request_actor(), target_type="oauth_device_authorization",
                        target_id=device.id, details={"client": client.name, "scopes": scopes.parse(scope)})


class Revocation7009(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> OAuthToken | None:
        return services.find_token(db.session, token_string, token_type_hint)

    def revoke_token(self, token: OAuthToken, request: Any) -> None:
        # Either token ends the grant: the client is signing out.
        services.revoke_grant(db.session, token.grant, request_actor(token.grant.user), "client")


def _token_generator(**_: Any) -> str:
    return services.new_opaque_token()


def init_app(app: Flask) -> CooperationAuthorizationServer:
    # Authlib logs issued tokens at DEBUG ("Issue token %r"): never let that level through.
    logging.getLogger("authlib").setLevel(max(logging.getLogger("authlib").level, logging.INFO))
    server = CooperationAuthorizationServer()
    server.init_app(app)
    server.register_token_generator("default", BearerTokenGenerator(
        _token_generator, _token_generator,
        int(services.ACCESS_TOKEN_LIFETIME.total_seconds())))
    server.register_grant(DeviceCodeGrantType)
    server.register_grant(RefreshTokenGrantType)
    server.register_endpoint(DeviceAuthorization8628)
    server.register_endpoint(Revocation7009)
    app.extensions["cooperation.oauth"] = server
    return server
