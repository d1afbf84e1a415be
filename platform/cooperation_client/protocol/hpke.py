"""HPKE (RFC 9180) base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM,
single-shot, output `enc(32) ‖ ciphertext ‖ tag(16)`.

`seal`/`open_` use `cryptography.hazmat.primitives.hpke` (fresh ephemeral key each time).
`seal_with_ephemeral` is the same computation spelt out from `cryptography`'s X25519, HKDF and
AES-GCM with a caller-chosen ephemeral key: it exists only so the test vectors are
deterministic (the browser twin has to build HPKE this way anyway, WebCrypto has no HPKE), and
the tests check it against `cryptography`'s implementation in both directions.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as _hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from . import primitives as P
from .encoding import u16
from .errors import ProtocolError, VerificationError

ENC_LEN = 32
KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
_SUITE = _hpke.Suite(_hpke.KEM.X25519, _hpke.KDF.HKDF_SHA256, _hpke.AEAD.AES_256_GCM)
_KEM_SUITE_ID = b"KEM" + u16(KEM_ID)
_HPKE_SUITE_ID = b"HPKE" + u16(KEM_ID) + u16(KDF_ID) + u16(AEAD_ID)
_VERSION = b"HPKE-v1"


def seal(recipient_public: bytes, info: bytes, plaintext: bytes) -> bytes:
    """Encrypt to an X25519 public key with a fresh ephemeral key."""
    return _SUITE.encrypt(plaintext, P.x25519_public(recipient_public), info=info)


def open_(recipient: X25519PrivateKey, info: bytes, blob: bytes) -> bytes:
    """Decrypt; any failure (wrong key, wrong info, tampering) is a VerificationError."""
    if len(blob) < ENC_LEN + P.TAG_LEN:
        raise ProtocolError("HPKE blob too short")
    try:
        return _SUITE.decrypt(blob, recipient, info=info)
    except (InvalidTag, ValueError) as exc:
        raise VerificationError("HPKE open failed") from exc


# -- the same computation from primitives, for deterministic test vectors ---------------------

def _labeled_extract(suite_id: bytes, salt: bytes, lbl: bytes, ikm: bytes) -> bytes:
    return HKDF.extract(hashes.SHA256(), salt or None, _VERSION + suite_id + lbl + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, lbl: bytes, info: bytes, length: int) -> bytes:
    labeled_info = u16(length) + _VERSION + suite_id + lbl + info
    return HKDFExpand(hashes.SHA256(), length, labeled_info).derive(prk)


def _key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    psk_id_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(_HPKE_SUITE_ID, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE_ID, secret, b"key", context, P.KEY_LEN)
    base_nonce = _labeled_expand(_HPKE_SUITE_ID, secret, b"base_nonce", context, P.NONCE_LEN)
    return key, base_nonce


def seal_with_ephemeral(ephemeral_seed: bytes, recipient_public: bytes, info: bytes,
                        plaintext: bytes) -> bytes:
    """RFC 9180 SealBase with a fixed ephemeral key. Test vectors only: reusing an ephemeral
    key across messages would be a catastrophic nonce reuse."""
    ephemeral = P.x25519_private(ephemeral_seed)
    enc = P.public_bytes(ephemeral)
    dh = P.x25519_shared(ephemeral, recipient_public)
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared = _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", enc + recipient_public, 32)
    key, base_nonce = _key_schedule(shared, info)
    return enc + P.aes_gcm_encrypt(key, base_nonce, plaintext, b"")
