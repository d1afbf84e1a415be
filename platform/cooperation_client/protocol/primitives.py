"""Thin wrappers over `cryptography` that fix suite 1's parameters in one place.

Every wrapper enforces the sizes WebCrypto would not (the probe found Chromium accepts 8-byte
AES-GCM nonces), so both twins reject the same malformed inputs. No primitive is written here.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ProtocolError, VerificationError

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
SIG_LEN = 64
PUB_LEN = 32


def random_bytes(length: int) -> bytes:
    return os.urandom(length)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def constant_time_equal(left: bytes, right: bytes) -> bool:
    return _hmac.compare_digest(left, right)


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256 (RFC 5869). An empty salt means HashLen zero bytes, as in WebCrypto."""
    return HKDF(hashes.SHA256(), length, salt=salt or None, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) with a 32-byte key."""
    if len(key) != KEY_LEN:
        raise ProtocolError("HMAC key must be 32 bytes")
    return _hmac.new(key, data, hashlib.sha256).digest()


def _check_key_nonce(key: bytes, nonce: bytes) -> None:
    if len(key) != KEY_LEN:
        raise ProtocolError("AES-256-GCM key must be 32 bytes")
    if len(nonce) != NONCE_LEN:
        raise ProtocolError("AES-GCM nonce must be 12 bytes")


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM, returning ciphertext ‖ tag."""
    _check_key_nonce(key, nonce)
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    _check_key_nonce(key, nonce)
    if len(ciphertext) < TAG_LEN:
        raise VerificationError("ciphertext shorter than its tag")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise VerificationError("authentication failed") from exc


# -- X25519 / Ed25519 from 32-byte seeds (how vectors, backups and the browser exchange keys) --

def x25519_private(seed: bytes) -> X25519PrivateKey:
    if len(seed) != KEY_LEN:
        raise ProtocolError("X25519 private key must be 32 bytes")
    return X25519PrivateKey.from_private_bytes(seed)


def ed25519_private(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != KEY_LEN:
        raise ProtocolError("Ed25519 seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_bytes(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def public_bytes(key: X25519PrivateKey | Ed25519PrivateKey | X25519PublicKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def x25519_public(raw: bytes) -> X25519PublicKey:
    if len(raw) != PUB_LEN:
        raise ProtocolError("X25519 public key must be 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def x25519_shared(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    """X25519; an all-zero (small-order) result is refused by OpenSSL, as by WebCrypto."""
    try:
        return private.exchange(x25519_public(peer_public))
    except ValueError as exc:
        raise ProtocolError("invalid X25519 public key") from exc


def sign(private: Ed25519PrivateKey, message: bytes) -> bytes:
    return private.sign(message)


def verify(public: bytes, signature: bytes, message: bytes) -> None:
    """Ed25519 verification; raises VerificationError (never returns False, so no caller can
    forget to check a boolean)."""
    if len(public) != PUB_LEN or len(signature) != SIG_LEN:
        raise VerificationError("bad signature or key length")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise VerificationError("invalid signature") from exc


def signed_digest(purpose: str, data: bytes) -> bytes:
    """What suite 1 signs: "TEK1/<purpose>-sig" ‖ SHA-256(data). Hashing first keeps the signed
    message short for large ciphertexts; the label separates every kind of signature."""
    return f"TEK1/{purpose}-sig".encode("ascii") + sha256(data)
