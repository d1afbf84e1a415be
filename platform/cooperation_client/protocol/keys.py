"""The key hierarchy of suite 1 (PROTOCOL.md §3):

    State authority key (Ed25519) ── signs user certificates
    user identity key UIK (Ed25519) ── signs device certificates and PUK generation records
    per-user key PUK_g (one 32-byte secret per generation → X25519 + Ed25519) ── HPKE-wrapped to
        each certified device; PUK_{g+1} encrypts PUK_g so history stays readable
    device keys (X25519 + Ed25519), one pair per browser profile or CLI install
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import hpke
from . import primitives as P
from .encoding import b64d, b64e, check_id, hexd, label, u32
from .errors import ProtocolError
from .statements import Signed, sign_statement, verify_statement


@dataclass(frozen=True)
class DevicePublic:
    device_id: bytes
    dh_pub: bytes
    sig_pub: bytes


@dataclass(frozen=True)
class DeviceKeys:
    """A device's private keys. The browser twin keeps these non-extractable in IndexedDB."""

    device_id: bytes
    dh: X25519PrivateKey
    sig: Ed25519PrivateKey

    @classmethod
    def generate(cls, device_id: bytes | None = None) -> DeviceKeys:
        return cls.from_seeds(device_id or P.random_bytes(16), P.random_bytes(32), P.random_bytes(32))

    @classmethod
    def from_seeds(cls, device_id: bytes, dh_seed: bytes, sig_seed: bytes) -> DeviceKeys:
        return cls(check_id(device_id, "device id"), P.x25519_private(dh_seed), P.ed25519_private(sig_seed))

    def public(self) -> DevicePublic:
        return DevicePublic(self.device_id, P.public_bytes(self.dh), P.public_bytes(self.sig))


@dataclass(frozen=True)
class UserIdentity:
    """The long-term user identity key (UIK); its public half is what safety numbers show."""

    user_id: bytes
    key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, user_id: bytes, seed: bytes) -> UserIdentity:
        return cls(check_id(user_id, "user id"), P.ed25519_private(seed))

    @classmethod
    def generate(cls, user_id: bytes) -> UserIdentity:
        return cls.from_seed(user_id, P.random_bytes(32))

    @property
    def public(self) -> bytes:
        return P.public_bytes(self.key)

    @property
    def seed(self) -> bytes:
        return P.private_bytes(self.key)


@dataclass(frozen=True)
class PerUserKey:
    """Generation `gen` of a user's PUK. One secret yields both key pairs (HKDF with distinct
    labels), so a backup or a device wrap carries 32 bytes per generation."""

    user_id: bytes
    gen: int
    secret: bytes

    def __post_init__(self) -> None:
        check_id(self.user_id, "user id")
        if not 1 <= self.gen <= 0xFFFFFFFF or len(self.secret) != 32:
            raise ProtocolError("invalid per-user key")

    @classmethod
    def generate(cls, user_id: bytes, gen: int) -> PerUserKey:
        return cls(user_id, gen, P.random_bytes(32))

    def _seed(self, purpose: str) -> bytes:
        return P.hkdf(self.secret, salt=self.user_id, info=label(f"TEK1/puk-{purpose}") + u32(self.gen))

    @property
    def dh(self) -> X25519PrivateKey:
        return P.x25519_private(self._seed("dh"))

    @property
    def sig(self) -> Ed25519PrivateKey:
        return P.ed25519_private(self._seed("sig"))

    @property
    def dh_pub(self) -> bytes:
        return P.public_bytes(self.dh)

    @property
    def sig_pub(self) -> bytes:
        return P.public_bytes(self.sig)


# -- PUK distribution ---------------------------------------------------------------------

def puk_wrap_info(user_id: bytes, gen: int, device_id: bytes) -> bytes:
    return label("TEK1/puk") + check_id(user_id) + u32(gen) + check_id(device_id)


def wrap_puk_for_device(puk: PerUserKey, device: DevicePublic, *, ephemeral_seed: bytes | None = None) -> bytes:
    """HPKE-wrap the PUK secret to one certified device (`ephemeral_seed`: test vectors only)."""
    info = puk_wrap_info(puk.user_id, puk.gen, device.device_id)
    if ephemeral_seed is not None:
        return hpke.seal_with_ephemeral(ephemeral_seed, device.dh_pub, info, puk.secret)
    return hpke.seal(device.dh_pub, info, puk.secret)


def unwrap_puk(device: DeviceKeys, user_id: bytes, gen: int, blob: bytes) -> PerUserKey:
    info = puk_wrap_info(user_id, gen, device.device_id)
    return PerUserKey(user_id, gen, hpke.open_(device.dh, info, blob))


def _prev_link_parts(newer: PerUserKey) -> tuple[bytes, bytes]:
    key = P.hkdf(newer.secret, salt=newer.user_id, info=label("TEK1/puk-prev") + u32(newer.gen))
    return key, label("TEK1/puk-prev") + newer.user_id + u32(newer.gen)


def link_previous(newer: PerUserKey, previous: PerUserKey, *, nonce: bytes | None = None) -> bytes:
    """PUK_{g} encrypted under PUK_{g+1}: whoever holds the newest generation can walk back
    through every older one, so a rotated user still reads old threads."""
    if previous.user_id != newer.user_id or previous.gen + 1 != newer.gen:
        raise ProtocolError("previous generation must directly precede the newer one")
    key, aad = _prev_link_parts(newer)
    nonce = nonce or P.random_bytes(P.NONCE_LEN)
    return nonce + P.aes_gcm_encrypt(key, nonce, previous.secret, aad)


def open_previous(newer: PerUserKey, link: bytes) -> PerUserKey:
    if newer.gen < 2 or len(link) != P.NONCE_LEN + 32 + P.TAG_LEN:
        raise ProtocolError("invalid previous-generation link")
    key, aad = _prev_link_parts(newer)
    secret = P.aes_gcm_decrypt(key, link[:P.NONCE_LEN], link[P.NONCE_LEN:], aad)
    return PerUserKey(newer.user_id, newer.gen - 1, secret)


# -- certificates and records ---------------------------------------------------------------

def certify_user(authority: Ed25519PrivateKey, *, user_id: bytes, state: str, role: str, admin: bool,
                 uik_pub: bytes, valid_until_ms: int) -> Signed:
    """The State authority vouches that this UIK belongs to this user of this State."""
    return sign_statement("user-cert", {
        "v": 1, "user": check_id(user_id).hex(), "state": state, "role": role, "admin": bool(admin),
        "uik_pub": b64e(uik_pub), "valid_until_ms": int(valid_until_ms)}, authority)


def certify_device(uik: UserIdentity, device: DevicePublic, *, label_text: str, created_ms: int) -> Signed:
    """The user's UIK vouches for one device; peers ignore devices without such a certificate."""
    return sign_statement("device-cert", {
        "v": 1, "user": uik.user_id.hex(), "device": device.device_id.hex(), "dh_pub": b64e(device.dh_pub),
        "sig_pub": b64e(device.sig_pub), "label": label_text, "created_ms": int(created_ms)}, uik.key)


def verify_device_cert(cert: Signed, uik_pub: bytes, user_id: bytes) -> DevicePublic:
    body = verify_statement(cert, "device-cert", uik_pub)
    if hexd(body.get("user", ""), 16) != user_id:
        raise ProtocolError("device certificate names another user")
    return DevicePublic(hexd(body.get("device", ""), 16), b64d(body["dh_pub"], 32), b64d(body["sig_pub"], 32))


def puk_record(uik: UserIdentity, puk: PerUserKey, *, prev_link: bytes | None) -> Signed:
    """Publishes the public halves of PUK_g, signed by the UIK; `prev_link` (gen ≥ 2) lets the
    user's devices recover older generations."""
    if (puk.gen == 1) != (prev_link is None):
        raise ProtocolError("generation 1 has no previous link; later ones must have one")
    body: dict[str, Any] = {"v": 1, "user": uik.user_id.hex(), "gen": puk.gen, "dh_pub": b64e(puk.dh_pub),
                            "sig_pub": b64e(puk.sig_pub), "prev_link": b64e(prev_link) if prev_link else None}
    return sign_statement("puk-record", body, uik.key)


def verify_puk_record(record: Signed, uik_pub: bytes, user_id: bytes) -> tuple[int, bytes, bytes]:
    """(gen, dh_pub, sig_pub) of a verified PUK record."""
    body = verify_statement(record, "puk-record", uik_pub)
    gen = body.get("gen")
    if hexd(body.get("user", ""), 16) != user_id or type(gen) is not int or gen < 1:
        raise ProtocolError("invalid PUK record")
    return gen, b64d(body["dh_pub"], 32), b64d(body["sig_pub"], 32)
