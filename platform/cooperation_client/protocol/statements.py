"""Signed statements: certificates, key records and thread events travel as the exact UTF-8 JSON
bytes their signer produced, plus an Ed25519 signature over "TEK1/<kind>-sig" ‖ SHA-256(bytes).

Verifiers check the signature over the bytes they received, then parse; they never re-serialise.
That sidesteps JSON canonicalisation differences between JavaScript and Python (research note
B.3). Signers emit sorted, compact JSON so that both twins produce identical bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import primitives as P
from .encoding import b64d, b64e
from .errors import ProtocolError

KINDS = frozenset({"user-cert", "device-cert", "device-revoke", "puk-record", "event"})
MAX_STATEMENT = 1 << 20


@dataclass(frozen=True)
class Signed:
    """A statement as stored and relayed: payload bytes and signature."""

    kind: str
    payload: bytes
    signature: bytes

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "payload": b64e(self.payload), "sig": b64e(self.signature)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signed:
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            raise ProtocolError("unknown statement kind")
        return cls(data["kind"], b64d(data["payload"]), b64d(data["sig"], P.SIG_LEN))


def json_bytes(obj: dict[str, Any]) -> bytes:
    """The signer-side serialisation: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_statement(kind: str, obj: dict[str, Any], key: Ed25519PrivateKey) -> Signed:
    if kind not in KINDS:
        raise ProtocolError("unknown statement kind")
    payload = json_bytes(obj)
    return Signed(kind, payload, P.sign(key, P.signed_digest(kind, payload)))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def verify_statement(statement: Signed, kind: str, public: bytes) -> dict[str, Any]:
    """Verify first, then parse: returns the payload object or raises."""
    if statement.kind != kind:
        raise ProtocolError(f"expected a {kind} statement")
    if len(statement.payload) > MAX_STATEMENT:
        raise ProtocolError("statement too large")
    P.verify(public, statement.signature, P.signed_digest(kind, statement.payload))
    try:
        # NaN/Infinity are not JSON; the browser twin's JSON.parse refuses them, so must we.
        obj = json.loads(statement.payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("statement payload is not UTF-8 JSON") from exc
    if not isinstance(obj, dict) or obj.get("v") != 1:
        raise ProtocolError("unsupported statement version")
    return obj
