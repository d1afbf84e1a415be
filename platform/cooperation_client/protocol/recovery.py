"""The Recovery Key and the encrypted account-secrets blob (PROTOCOL.md §8).

The Recovery Key is 256 random bits shown once as 52 base32 characters in 13 groups of 4. It is
high-entropy, so HKDF (no slow password KDF) derives the blob key; the blob is authenticated
and bound to the user and the blob version, unlike Matrix's unauthenticated backup v1.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from . import primitives as P
from .encoding import b64d, b64e, check_id, label, u32
from .errors import ProtocolError, VerificationError
from .keys import PerUserKey, UserIdentity

RK_LEN = 32
RK_CHARS = 52
BLOB_VERSION = 1
# Characters people mistype for base32 ones; base32 has no 0, 1 or 8, so mapping them is safe.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def new_recovery_key() -> bytes:
    return P.random_bytes(RK_LEN)


def format_recovery_key(key: bytes) -> str:
    """'ABCD EFGH …': RFC 4648 base32 without padding, groups of 4 for reading aloud or typing."""
    if len(key) != RK_LEN:
        raise ProtocolError("recovery key must be 32 bytes")
    text = base64.b32encode(key).decode("ascii").rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    """Accepts any case, spaces or hyphens and common look-alikes; rejects anything else,
    including non-canonical trailing bits, so one key has exactly one spelling."""
    compact = "".join(ch for ch in text.upper().translate(_LOOKALIKES) if ch not in " -\t\n")
    if len(compact) != RK_CHARS:
        raise ProtocolError(f"a recovery key has {RK_CHARS} characters")
    try:
        key = base64.b32decode(compact + "====", casefold=False)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("the recovery key contains invalid characters") from exc
    if format_recovery_key(key).replace(" ", "") != compact:
        raise ProtocolError("the recovery key is not valid")
    return key


def _blob_parts(recovery_key: bytes, user_id: bytes, version: int) -> tuple[bytes, bytes]:
    key = P.hkdf(recovery_key, salt=b"", info=label("TEK1/recovery"))
    return key, label("TEK1/recovery") + check_id(user_id) + u32(version)


@dataclass(frozen=True)
class AccountSecrets:
    """What the Recovery Key restores: the UIK seed and every PUK generation."""

    user_id: bytes
    uik_seed: bytes
    puks: tuple[PerUserKey, ...]

    def identity(self) -> UserIdentity:
        return UserIdentity.from_seed(self.user_id, self.uik_seed)

    def to_bytes(self) -> bytes:
        obj: dict[str, Any] = {"v": 1, "uik_seed": b64e(self.uik_seed),
                               "puks": [{"gen": p.gen, "secret": b64e(p.secret)} for p in self.puks]}
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, user_id: bytes, data: bytes) -> AccountSecrets:
        try:
            obj = json.loads(data.decode("utf-8"))
            puks = tuple(PerUserKey(user_id, int(p["gen"]), b64d(p["secret"], 32)) for p in obj["puks"])
            return cls(user_id, b64d(obj["uik_seed"], 32), puks)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ProtocolError("account secrets are malformed") from exc


def seal_account_secrets(recovery_key: bytes, secrets: AccountSecrets, *, version: int,
                         nonce: bytes | None = None) -> bytes:
    """blob = u8 1 | u32 version | nonce[12] | AES-256-GCM(k_rk, secrets, aad)."""
    key, aad = _blob_parts(recovery_key, secrets.user_id, version)
    nonce = nonce or P.random_bytes(P.NONCE_LEN)
    return bytes([BLOB_VERSION]) + u32(version) + nonce + P.aes_gcm_encrypt(key, nonce, secrets.to_bytes(), aad)


def open_account_secrets(recovery_key: bytes, user_id: bytes, blob: bytes) -> AccountSecrets:
    if len(blob) < 1 + 4 + P.NONCE_LEN + P.TAG_LEN or blob[0] != BLOB_VERSION:
        raise ProtocolError("not a recovery blob")
    version = int.from_bytes(blob[1:5], "big")
    key, aad = _blob_parts(recovery_key, user_id, version)
    try:
        plaintext = P.aes_gcm_decrypt(key, blob[5:17], blob[17:], aad)
    except VerificationError as exc:
        raise VerificationError("wrong recovery key, or the blob was altered") from exc
    return AccountSecrets.from_bytes(user_id, plaintext)
