"""The Recovery Key and the recovery blob of the account secrets (PROTOCOL.md §8).

The Recovery Key (RK) is 256 random bits shown once as 52 base32 characters in 13 groups of 4.
It is high-entropy, so HKDF (no slow password KDF) derives everything from it:

* the recovery key pair (X25519, seed HKDF(RK, info="TEK1/recovery-kem")). The blob (format 2)
  is an HPKE seal of the account secrets to its public key, and the account secrets carry that
  public key: every device holding them (enrolled, restored or approved) re-seals the blob after
  a revocation without the Recovery Key, while only the Recovery Key opens it. A device takes the
  public key from the account secrets it already trusts, never from the server, which never sees
  it;
* the binding key (HKDF(RK, info="TEK1/recovery-bind")): an HMAC over the user, the identity key
  and the recovery public key, also carried in the account secrets and checked on recovery, so
  that nobody without the Recovery Key can make a blob that opens into another identity, even
  knowing the recovery public key.

Format 1 (AES-256-GCM under HKDF(RK, info="TEK1/recovery")) is still read, so enrolments made
before format 2 recover; opening one yields the recovery public key, so the next seal is
format 2. Both formats are authenticated and bound to the user and the blob version, unlike
Matrix's unauthenticated backup v1.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import hpke
from . import primitives as P
from .encoding import b64d, b64e, check_id, label, u32
from .errors import ProtocolError, VerificationError
from .keys import PerUserKey, UserIdentity

RK_LEN = 32
RK_CHARS = 52
FORMAT_V1 = 1  # AES-256-GCM under HKDF(RK, "TEK1/recovery"): read; written only by older browsers
FORMAT_V2 = 2  # HPKE to the recovery public key: what both clients write
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


def _derive(recovery_key: bytes, purpose: str) -> bytes:
    if len(recovery_key) != RK_LEN:
        raise ProtocolError("recovery key must be 32 bytes")
    return P.hkdf(recovery_key, salt=b"", info=label(f"TEK1/{purpose}"))


def recovery_kem(recovery_key: bytes) -> X25519PrivateKey:
    """The recovery private key: needed only while recovering, never stored."""
    return P.x25519_private(_derive(recovery_key, "recovery-kem"))


def binding_input(user_id: bytes, uik_pub: bytes, recovery_pub: bytes) -> bytes:
    """"TEK1/recovery-bind" ‖ user_id ‖ uik_pub ‖ recovery_pub (what the binding HMAC covers)."""
    if len(uik_pub) != P.PUB_LEN or len(recovery_pub) != P.PUB_LEN:
        raise ProtocolError("identity and recovery public keys must be 32 bytes")
    return label("TEK1/recovery-bind") + check_id(user_id, "user id") + uik_pub + recovery_pub


@dataclass(frozen=True)
class RecoveryInfo:
    """What a device needs to re-seal the recovery blob without the Recovery Key: the recovery
    public key and its binding to the user's identity key (an HMAC only the Recovery Key makes)."""

    public: bytes
    binding: bytes

    def to_json(self) -> dict[str, str]:
        return {"bind": b64e(self.binding), "pub": b64e(self.public)}

    @classmethod
    def from_json(cls, obj: Any) -> RecoveryInfo:
        if not isinstance(obj, dict):
            raise ProtocolError("recovery information is malformed")
        return cls(b64d(obj.get("pub"), P.PUB_LEN), b64d(obj.get("bind"), 32))

    def matches(self, other: RecoveryInfo) -> bool:
        return (P.constant_time_equal(self.public, other.public)
                and P.constant_time_equal(self.binding, other.binding))


def recovery_info(recovery_key: bytes, user_id: bytes, uik_pub: bytes) -> RecoveryInfo:
    """The recovery public key of this Recovery Key, bound to the user and identity key."""
    public = P.public_bytes(recovery_kem(recovery_key))
    binding = P.hmac_sha256(_derive(recovery_key, "recovery-bind"), binding_input(user_id, uik_pub, public))
    return RecoveryInfo(public, binding)


@dataclass(frozen=True)
class AccountSecrets:
    """What the Recovery Key restores and an approval hands over: the UIK seed, every PUK
    generation and, from format 2 on, the recovery public key with its binding."""

    user_id: bytes
    uik_seed: bytes
    puks: tuple[PerUserKey, ...]
    recovery: RecoveryInfo | None = None

    def identity(self) -> UserIdentity:
        return UserIdentity.from_seed(self.user_id, self.uik_seed)

    def to_bytes(self) -> bytes:
        obj: dict[str, Any] = {"v": 1, "uik_seed": b64e(self.uik_seed),
                               "puks": [{"gen": p.gen, "secret": b64e(p.secret)} for p in self.puks]}
        if self.recovery is not None:
            obj["recovery"] = self.recovery.to_json()
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, user_id: bytes, data: bytes) -> AccountSecrets:
        try:
            obj = json.loads(data.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            puks = tuple(PerUserKey(user_id, int(p["gen"]), b64d(p["secret"], 32)) for p in obj["puks"])
            found = obj.get("recovery")
            info = RecoveryInfo.from_json(found) if found is not None else None
            return cls(user_id, b64d(obj["uik_seed"], 32), puks, info)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, ProtocolError) as exc:
            raise ProtocolError("account secrets are malformed") from exc


# -- format 2: HPKE to the recovery public key ------------------------------------------------

def blob_info(user_id: bytes, version: int) -> bytes:
    """HPKE info of a format 2 blob: "TEK1/recovery-blob" ‖ user_id ‖ u32 version."""
    return label("TEK1/recovery-blob") + check_id(user_id, "user id") + u32(version)


def seal_recovery_blob(secrets: AccountSecrets, *, version: int, ephemeral_seed: bytes | None = None) -> bytes:
    """blob = u8 2 | u32 version | HPKE(recovery public key, info, secrets). No Recovery Key is
    needed: the public key is the one inside the account secrets (never one from the server).
    `ephemeral_seed`: test vectors only."""
    if secrets.recovery is None:
        raise ProtocolError("these account secrets carry no recovery public key")
    info = blob_info(secrets.user_id, version)
    plaintext = secrets.to_bytes()
    if ephemeral_seed is not None:
        sealed = hpke.seal_with_ephemeral(ephemeral_seed, secrets.recovery.public, info, plaintext)
    else:
        sealed = hpke.seal(secrets.recovery.public, info, plaintext)
    return bytes([FORMAT_V2]) + u32(version) + sealed


# -- format 1: AES-256-GCM under HKDF(RK, "TEK1/recovery") ------------------------------------

def _v1_parts(recovery_key: bytes, user_id: bytes, version: int) -> tuple[bytes, bytes]:
    return _derive(recovery_key, "recovery"), label("TEK1/recovery") + check_id(user_id) + u32(version)


def seal_account_secrets_v1(recovery_key: bytes, secrets: AccountSecrets, *, version: int,
                            nonce: bytes | None = None) -> bytes:
    """blob = u8 1 | u32 version | nonce[12] | AES-256-GCM(k_rk, secrets, aad). The old format:
    only for the test vectors and for tests of enrolments made before format 2."""
    key, aad = _v1_parts(recovery_key, secrets.user_id, version)
    nonce = nonce or P.random_bytes(P.NONCE_LEN)
    return bytes([FORMAT_V1]) + u32(version) + nonce + P.aes_gcm_encrypt(key, nonce, secrets.to_bytes(), aad)


def blob_format(blob: bytes) -> int:
    if len(blob) < 5 or blob[0] not in (FORMAT_V1, FORMAT_V2):
        raise ProtocolError("not a recovery blob")
    return blob[0]


def open_account_secrets(recovery_key: bytes, user_id: bytes, blob: bytes) -> AccountSecrets:
    """Either format. The result always carries the recovery information derived from the
    Recovery Key (a format 2 blob must hold exactly that), so whoever opens a format 1 blob seals
    format 2 next: that is how old enrolments are upgraded."""
    fmt = blob_format(blob)
    version = int.from_bytes(blob[1:5], "big")
    try:
        if fmt == FORMAT_V1:
            if len(blob) < 5 + P.NONCE_LEN + P.TAG_LEN:
                raise ProtocolError("not a recovery blob")
            key, aad = _v1_parts(recovery_key, user_id, version)
            plaintext = P.aes_gcm_decrypt(key, blob[5:17], blob[17:], aad)
        else:
            plaintext = hpke.open_(recovery_kem(recovery_key), blob_info(user_id, version), blob[5:])
    except VerificationError as exc:
        raise VerificationError("wrong recovery key, or the blob was altered") from exc
    secrets = AccountSecrets.from_bytes(user_id, plaintext)
    expected = recovery_info(recovery_key, user_id, secrets.identity().public)
    if fmt == FORMAT_V2 and (secrets.recovery is None or not secrets.recovery.matches(expected)):
        # Sealed to this Recovery Key's public key, but not bound by it to this identity key:
        # made by someone who learnt the public key, not by one of the user's devices.
        raise VerificationError("the recovery blob is not bound to its identity key")
    return replace(secrets, recovery=expected)
