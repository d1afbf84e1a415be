"""A software WebAuthn authenticator (EC P-256, attestation 'none') for the tests, and unit tests
of it and of the pure helpers in cooperation.security.webauthn.

The authenticator builds the bytes a real key would: authenticatorData (rpIdHash, flags,
signCount, attested credential data with a COSE key), clientDataJSON, a CBOR attestation
object, and an ECDSA signature over authenticatorData || SHA-256(clientDataJSON). The first
tests prove py_webauthn accepts what it makes, so the functional tests are not vacuous.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse

from cooperation.security import webauthn as webauthn_mfa

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticatorRefused(Exception):
    """What a browser reports as InvalidStateError / NotAllowedError."""


class SoftKey:
    def __init__(self, origin: str = "http://localhost", sign_count: int = 0, counter_step: int = 1) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.origin = origin
        self.sign_count = sign_count
        self.counter_step = counter_step  # 0: a key without a counter (many passkeys)

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, rp_id: str, flags: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + self.sign_count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self.cose_public_key()
        return data

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def register(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
                 challenge: str | None = None) -> dict[str, Any]:
        """The answer of navigator.credentials.create(), in the JSON the page posts."""
        if any(c["id"] == self.id for c in options.get("excludeCredentials", [])):
            raise AuthenticatorRefused("InvalidStateError")
        auth_data = self._auth_data(rp_id or options["rp"]["id"], FLAG_UP | FLAG_UV | FLAG_AT, attested=True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                             "transports": ["usb", "nfc"]}}

    def assertion(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
                  challenge: str | None = None, ignore_allow_list: bool = False) -> dict[str, Any]:
        """The answer of navigator.credentials.get(); the counter moves by counter_step."""
        allowed = [c["id"] for c in options.get("allowCredentials", [])]
        if allowed and self.id not in allowed and not ignore_allow_list:
            raise AuthenticatorRefused("NotAllowedError")
        self.sign_count += self.counter_step
        auth_data = self._auth_data(rp_id or options["rpId"], FLAG_UP | FLAG_UV, attested=False)
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                          ec.ECDSA(hashes.SHA256()))
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature)}}


# -- the software key against py_webauthn itself --------------------------------------------------

RP = webauthn_mfa.RelyingParty(id="localhost", name="Test", origin="http://localhost")


def _registered(key: SoftKey) -> tuple[bytes, int]:
    options = generate_registration_options(rp_id=RP.id, rp_name=RP.name, user_name="a@b.test")
    verified = verify_registration_response(credential=key.register(json.loads(options_to_json(options))),
                                            expected_challenge=options.challenge, expected_rp_id=RP.id,
                                            expected_origin=RP.origin)
    assert verified.credential_id == key.credential_id
    return verified.credential_public_key, verified.sign_count


def test_soft_key_registration_and_assertion_verify() -> None:
    key = SoftKey()
    public_key, count = _registered(key)
    options = generate_authentication_options(rp_id=RP.id)
    verified = verify_authentication_response(
        credential=key.assertion(json.loads(options_to_json(options))), expected_challenge=options.challenge,
        expected_rp_id=RP.id, expected_origin=RP.origin, credential_public_key=public_key,
        credential_current_sign_count=count)
    assert verified.new_sign_count == 1 and verified.user_verified


def test_soft_key_assertion_by_another_key_fails_signature() -> None:
    key, impostor = SoftKey(), SoftKey()
    public_key, _ = _registered(key)
    impostor.credential_id = key.credential_id  # same id, different private key
    options = generate_authentication_options(rp_id=RP.id)
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication_response(
            credential=impostor.assertion(json.loads(options_to_json(options))),
            expected_challenge=options.challenge, expected_rp_id=RP.id, expected_origin=RP.origin,
            credential_public_key=public_key, credential_current_sign_count=0)


@pytest.mark.parametrize("change", [{"origin": "https://evil.test"}, {"rp_id": "evil.test"},
                                    {"challenge": b64url(b"x" * 32)}])
def test_soft_key_registration_with_wrong_context_fails(change: dict[str, str]) -> None:
    options = generate_registration_options(rp_id=RP.id, rp_name=RP.name, user_name="a@b.test")
    with pytest.raises(InvalidRegistrationResponse):
        verify_registration_response(credential=SoftKey().register(json.loads(options_to_json(options)), **change),
                                     expected_challenge=options.challenge, expected_rp_id=RP.id,
                                     expected_origin=RP.origin)


# -- pure helpers ----------------------------------------------------------------------------------

def test_relying_party_defaults_to_the_request_host() -> None:
    rp = webauthn_mfa.relying_party("", "Platform", "", "http://coop.example.org:8443/")
    assert rp == webauthn_mfa.RelyingParty("coop.example.org", "Platform", "http://coop.example.org:8443")


def test_relying_party_settings_win() -> None:
    rp = webauthn_mfa.relying_party("example.org", "P", "https://coop.example.org/", "http://127.0.0.1:5000/")
    assert (rp.id, rp.origin) == ("example.org", "https://coop.example.org")


def test_user_handle_is_stable_opaque_and_per_user() -> None:
    class U:
        def __init__(self, id: int) -> None:
            self.id = id

    one = webauthn_mfa.user_handle(U(1), "secret")  # type: ignore[arg-type]
    assert one == webauthn_mfa.user_handle(U(1), "secret")  # type: ignore[arg-type]
    assert one != webauthn_mfa.user_handle(U(2), "secret")  # type: ignore[arg-type]
    assert one != webauthn_mfa.user_handle(U(1), "other")  # type: ignore[arg-type]
    assert len(one) == 32


@pytest.mark.parametrize("raw", ["", "   ", "x" * 101, None, 42, ["key"]])
def test_key_name_must_be_1_to_100_characters(raw: object) -> None:
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app)
    with app.app_context(), pytest.raises(webauthn_mfa.WebAuthnError) as refused:
        webauthn_mfa.clean_name(raw)
    assert refused.value.reason == "bad_name"


def test_key_name_is_trimmed() -> None:
    assert webauthn_mfa.clean_name("  YubiKey 5  ") == "YubiKey 5"
    assert webauthn_mfa.clean_name("k" * 100) == "k" * 100
