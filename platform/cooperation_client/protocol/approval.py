"""Approving a new device from an existing one (PROTOCOL.md §8a).

The new device generates its device keys and asks the server to relay a request (its id, which
becomes its device id, and its public keys). Both devices show the same verification code,
derived from the user, the request and the user identity key the new device was shown; the
person compares them. The approving device then seals the account secrets (the same bytes as the
recovery blob's plaintext) to the request's X25519 key with HPKE and signs the result with its
own device key. The new device opens the seal, checks that the UIK seed inside is the identity
key it bound into the code, verifies the approver's certificate and signature, then certifies
itself with the UIK.

The server relays the request and the sealed secrets; it can neither read them nor substitute
its own keys without the codes differing (the code has about 100 bits: a second preimage is out
of reach within the request's ten minutes).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import hpke
from . import primitives as P
from .encoding import check_id, label
from .errors import ProtocolError, VerificationError

CODE_GROUPS = 6  # 30 digits, as a user fingerprint (§9)
SIGNATURE_PURPOSE = "approval"


def _check_keys(uik_pub: bytes, dh_pub: bytes, sig_pub: bytes) -> bytes:
    for value, what in ((uik_pub, "identity key"), (dh_pub, "X25519 key"), (sig_pub, "Ed25519 key")):
        if len(value) != P.PUB_LEN:
            raise ProtocolError(f"{what} must be {P.PUB_LEN} bytes")
    return uik_pub + dh_pub + sig_pub


def request_binding(user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes, sig_pub: bytes) -> bytes:
    """user_id ‖ request_id ‖ uik_pub ‖ dh_pub ‖ sig_pub (16 + 16 + 3 × 32 bytes)."""
    return check_id(user_id, "user id") + check_id(request_id, "request id") + _check_keys(uik_pub, dh_pub, sig_pub)


def approval_code(user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes, sig_pub: bytes) -> str:
    """30 digits: SHA-256("TEK1/fp/approval" ‖ binding), 6 groups of 5 (5 bytes mod 100,000)."""
    digest = P.sha256(label("TEK1/fp/approval") + request_binding(user_id, request_id, uik_pub, dh_pub, sig_pub))
    return "".join(f"{int.from_bytes(digest[5 * i:5 * i + 5], 'big') % 100000:05d}" for i in range(CODE_GROUPS))


def seal_info(user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes, sig_pub: bytes) -> bytes:
    """HPKE info of the sealed secrets: "TEK1/approval" ‖ binding."""
    return label("TEK1/approval") + request_binding(user_id, request_id, uik_pub, dh_pub, sig_pub)


def signed_data(user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes, sig_pub: bytes,
                approver_device: bytes, sealed: bytes) -> bytes:
    """What the approving device signs (as "TEK1/approval-sig" ‖ SHA-256(this)):
    "TEK1/approval" ‖ binding ‖ approver_device_id ‖ sealed."""
    return (seal_info(user_id, request_id, uik_pub, dh_pub, sig_pub) + check_id(approver_device, "device id")
            + sealed)


def signature_input(user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes, sig_pub: bytes,
                    approver_device: bytes, sealed: bytes) -> bytes:
    return P.signed_digest(SIGNATURE_PURPOSE, signed_data(user_id, request_id, uik_pub, dh_pub, sig_pub,
                                                          approver_device, sealed))


def seal_secrets(secrets_bytes: bytes, *, user_id: bytes, request_id: bytes, uik_pub: bytes, dh_pub: bytes,
                 sig_pub: bytes, approver_device: bytes, approver_key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """(sealed, signature): the account secrets HPKE-sealed to the request's X25519 key, and the
    approving device's signature over them."""
    sealed = hpke.seal(dh_pub, seal_info(user_id, request_id, uik_pub, dh_pub, sig_pub), secrets_bytes)
    signature = P.sign(approver_key, signature_input(user_id, request_id, uik_pub, dh_pub, sig_pub,
                                                     approver_device, sealed))
    return sealed, signature


def verify_approval(approver_sig_pub: bytes, signature: bytes, *, user_id: bytes, request_id: bytes, uik_pub: bytes,
                    dh_pub: bytes, sig_pub: bytes, approver_device: bytes, sealed: bytes) -> None:
    P.verify(approver_sig_pub, signature, signature_input(user_id, request_id, uik_pub, dh_pub, sig_pub,
                                                           approver_device, sealed))


def open_secrets(dh: X25519PrivateKey, sealed: bytes, *, user_id: bytes, request_id: bytes, uik_pub: bytes,
                 sig_pub: bytes) -> bytes:
    """The account-secrets bytes; VerificationError if the seal was not made for this request.
    The caller must still check that the UIK seed inside yields `uik_pub`."""
    dh_pub = P.public_bytes(dh)
    try:
        return hpke.open_(dh, seal_info(user_id, request_id, uik_pub, dh_pub, sig_pub), sealed)
    except VerificationError as exc:
        raise VerificationError("the approval was not sealed for this request") from exc

