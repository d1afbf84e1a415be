"""WebAuthn security keys and passkeys (py_webauthn): registration and sign-in ceremonies.

The ceremonies are split in two halves. `*_options` builds the JSON the browser passes to
navigator.credentials.create()/get() and returns the challenge, which the caller keeps in the
server-side session; `register`/`authenticate` verify the browser's answer against that
challenge, the relying party id and the origin. Nothing here commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.security.models import WebAuthnCredential

CEREMONY_TIMEOUT_MS = 120_000
NAME_MAX_LENGTH = 100
# Malformed input can surface from the CBOR/ASN.1/base64 parsers as plain Python errors.
_BAD_INPUT = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)


class WebAuthnError(Exception):
    """The ceremony failed. The message is safe to show; `reason` goes to the audit log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a registrable domain, no scheme or port
    name: str
    origin: str  # scheme://host[:port], as the browser reports it in clientDataJSON


def relying_party(rp_id: str, rp_name: str, origin: str, host_url: str) -> RelyingParty:
    """Configured values win; otherwise the host the request came to (host_url: http://h:p/)."""
    parts = urlsplit(host_url)
    return RelyingParty(id=rp_id or (parts.hostname or "localhost"), name=rp_name,
                        origin=(origin or f"{parts.scheme}://{parts.netloc}").rstrip("/"))


def user_handle(user: User, secret_key: str) -> bytes:
    """A stable, opaque user handle (WebAuthn forbids personal data in it): HMAC of the id."""
    return hmac.new(secret_key.encode(), f"webauthn-user:{user.id}".encode(), hashlib.sha256).digest()


# -- queries ------------------------------------------------------------------------------------

def has_credentials(session: Session, user: User) -> bool:
    return bool(session.scalar(select(func.count()).select_from(WebAuthnCredential)
                               .where(WebAuthnCredential.user_id == user.id)))


def credentials_of(session: Session, user: User) -> list[WebAuthnCredential]:
    return list(session.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id)
                                .order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)))


def _descriptors(credentials: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=c.credential_id, transports=_transports(c.transports) or None)
            for c in credentials]


def _transports(values: Any) -> list[AuthenticatorTransport]:
    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(v) for v in (values or []) if isinstance(v, str) and v in known]


# -- registration -------------------------------------------------------------------------------

def registration_options(session: Session, user: User, rp: RelyingParty, handle: bytes) -> tuple[dict[str, Any], bytes]:
    """Options for navigator.credentials.create(), and the challenge to keep server-side."""
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=handle, user_name=user.email,
        user_display_name=user.full_name, timeout=CEREMONY_TIMEOUT_MS,
        # A key already registered must not be registered twice (the browser says so).
        exclude_credentials=_descriptors(credentials_of(session, user)),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
    )
    return json.loads(options_to_json(options)), options.challenge


def clean_name(raw: object) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > NAME_MAX_LENGTH:
        raise WebAuthnError(_("Enter a name for the key, up to %(n)d characters.", n=NAME_MAX_LENGTH),
                            "bad_name")
    return name


def register(session: Session, user: User, rp: RelyingParty, credential: object, name: str,
             challenge: bytes, actor: Actor) -> WebAuthnCredential:
    """Verify an attestation (format 'none' or any py_webauthn verifies) and store the key."""
    name = clean_name(name)
    try:
        parsed = parse_registration_credential_json(credential)  # type: ignore[arg-type]
        verified = verify_registration_response(credential=parsed, expected_challenge=challenge,
                                                expected_rp_id=rp.id, expected_origin=rp.origin)
    except _BAD_INPUT as exc:
        raise WebAuthnError(_("The security key could not be registered. Please try again."),
                            "bad_attestation") from exc
    existing = session.scalar(select(WebAuthnCredential)
                              .where(WebAuthnCredential.credential_id == verified.credential_id))
    if existing is not None:
        raise WebAuthnError(_("This security key is already registered."), "duplicate")
    key = WebAuthnCredential(
        user_id=user.id, credential_id=verified.credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count, name=name, created_at=utcnow(),
        transports=[t.value for t in parsed.response.transports or []],
    )
    session.add(key)
    session.flush()
    record(session, "mfa.webauthn.register", actor, target_type="webauthn_credential", target_id=key.id,
           details={"name": name, "fmt": str(getattr(verified.fmt, "value", verified.fmt)), "user_verified": verified.user_verified,
                    "backed_up": verified.credential_backed_up})
    return key


# -- authentication -----------------------------------------------------------------------------

def authentication_options(session: Session, user: User, rp: RelyingParty) -> tuple[dict[str, Any], bytes]:
    """Options for navigator.credentials.get(), limited to this user's keys."""
    options = generate_authentication_options(
        rp_id=rp.id, timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=_descriptors(credentials_of(session, user)),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return json.loads(options_to_json(options)), options.challenge


def authenticate(session: Session, user: User, rp: RelyingParty, credential: object, challenge: bytes,
                 actor: Actor) -> WebAuthnCredential:
    """Verify an assertion by one of the user's keys and advance its signature counter."""
    refused = WebAuthnError(_("The security key could not be verified. Please try again."), "bad_webauthn")
    try:
        parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
    except _BAD_INPUT as exc:
        raise refused from exc
    # Row lock: two simultaneous sign-ins with one key must not both pass the counter check.
    key = session.scalar(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id,
                                                          WebAuthnCredential.credential_id == parsed.raw_id)
                         .with_for_update())
    if key is None:
        raise refused
    try:
        # The counter is checked below, after the signature, so a forged response cannot
        # raise a clone alarm; py_webauthn is given 0 so it does not refuse first.
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=key.public_key, credential_current_sign_count=0)
    except _BAD_INPUT as exc:
        raise refused from exc
    if (verified.new_sign_count or key.sign_count) and verified.new_sign_count <= key.sign_count:
        # A counter that does not move forward means a cloned key or a replayed assertion.
        record(session, "mfa.webauthn.sign_count", actor, outcome="failure", target_type="webauthn_credential",
               target_id=key.id, details={"stored": key.sign_count, "received": verified.new_sign_count})
        raise WebAuthnError(_("This security key was refused. Please contact the Secretariat."),
                            "webauthn_sign_count")
    key.sign_count = verified.new_sign_count
    key.last_used_at = utcnow()
    return key


# -- removal ------------------------------------------------------------------------------------

def find_own(session: Session, user: User, key_id: int) -> WebAuthnCredential | None:
    key = session.get(WebAuthnCredential, key_id)
    return key if key is not None and key.user_id == user.id else None


def remove(session: Session, user: User, key: WebAuthnCredential, actor: Actor, *, keep_one: bool) -> None:
    """Delete one's own key. keep_one: the user must keep at least one (administrators)."""
    if key.user_id != user.id:
        raise WebAuthnError(_("This security key does not exist."), "not_found")
    if keep_one and len(credentials_of(session, user)) <= 1:
        raise WebAuthnError(_("Administrators must keep at least one security key. Register another "
                              "key before removing this one."), "last_key")
    record(session, "mfa.webauthn.remove", actor, target_type="webauthn_credential", target_id=key.id,
           details={"name": key.name})
    session.delete(key)
    session.flush()
