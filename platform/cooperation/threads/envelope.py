"""Structure checks of TEK1 message envelopes (research note B.7). The server cannot decrypt;
it refuses anything that is not a well-formed, signed envelope (SecureDrop's "NotEncrypted"
posture: plaintext posted by a broken client never gets stored).

    header = "TEK1" | u8 suite=1 | u8 type | thread_id[16] | u32 epoch | head_hash[32]
             | msg_id[16] | sender_user[16] | sender_device[16] | u64 client_ts_ms | nonce[12]
    stored = header | ct | sig[64]
    sig    = Ed25519(dev_sig, "TEK1/msg-sig" | SHA-256(header | ct))

The ciphertext is the padded body plus the 16-byte GCM tag; padded bodies come in buckets of
256 bytes below 4 KiB, and in powers of two above.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The format itself belongs to the protocol core, so server and clients cannot drift apart; this
# module adds only what the server decides: the size cap, its error messages, the sender check.
from cooperation_client.protocol.encoding import MAX_PADDED, is_bucket
from cooperation_client.protocol.encoding import SMALL_STEP as MIN_BUCKET
from cooperation_client.protocol.envelope import HEADER_LEN as HEADER_SIZE
from cooperation_client.protocol.envelope import LAYOUT, MAGIC, MESSAGE_TYPES, SUITE, signed_bytes
from cooperation_client.protocol.envelope import SIG_LEN as SIG_SIZE
from cooperation_client.protocol.envelope import TAG_LEN as TAG_SIZE

MSG_ID_SLICE = slice(58, 74)  # where msg_id sits in the header
MAX_ENVELOPE = HEADER_SIZE + MAX_PADDED + TAG_SIZE + SIG_SIZE


class EnvelopeError(ValueError):
    """The bytes are not a valid TEK1 envelope; the message says which rule failed."""


@dataclass(frozen=True)
class Header:
    suite: int
    type: int
    thread_id: bytes
    epoch: int
    head_hash: bytes
    msg_id: bytes
    sender_user: bytes
    sender_device: bytes
    client_ts_ms: int
    nonce: bytes


@dataclass(frozen=True)
class Envelope:
    header: Header
    signed_part: bytes  # header | ct
    ciphertext_size: int
    signature: bytes


def user_ref(user_id: int) -> bytes:
    """A platform user id as the 16-byte field of headers (u128, big-endian)."""
    return user_id.to_bytes(16, "big")


def parse(data: bytes) -> Envelope:
    if len(data) > MAX_ENVELOPE:
        raise EnvelopeError("the envelope is larger than a 1 MiB padded body allows")
    if len(data) < HEADER_SIZE + TAG_SIZE + MIN_BUCKET + SIG_SIZE:
        raise EnvelopeError("the envelope is too short to hold a header, a padded body and a signature")
    fields = LAYOUT.unpack_from(data)
    if fields[0] != MAGIC:
        raise EnvelopeError("the envelope does not start with TEK1 (not encrypted?)")
    header = Header(*fields[1:])
    if header.suite != SUITE:
        raise EnvelopeError(f"unknown cipher suite {header.suite}")
    if header.type not in MESSAGE_TYPES:
        raise EnvelopeError(f"unknown message type {header.type}")
    ct_size = len(data) - HEADER_SIZE - SIG_SIZE
    if not is_bucket(ct_size - TAG_SIZE):
        raise EnvelopeError("the ciphertext length is not a padded bucket size")
    return Envelope(header=header, signed_part=data[:-SIG_SIZE], ciphertext_size=ct_size,
                    signature=data[-SIG_SIZE:])


def signature_input(signed_part: bytes) -> bytes:
    return signed_bytes(signed_part[:HEADER_SIZE], signed_part[HEADER_SIZE:])


def verify_signature(envelope: Envelope, sig_public: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(sig_public).verify(envelope.signature,
                                                              signature_input(envelope.signed_part))
    except (InvalidSignature, ValueError):
        return False
    return True
