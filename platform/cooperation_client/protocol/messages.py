"""Sealing and opening TEK1 messages (format in envelope.py, PROTOCOL.md §5).

    k_msg = HKDF-SHA256(K_epoch, salt=thread_id, info="TEK1 msg" ‖ u32 epoch)
    ct    = AES-256-GCM(k_msg, header.nonce, pad(UTF-8 JSON body), aad=header)
    sig   = Ed25519(device, "TEK1/msg-sig" ‖ SHA-256(header ‖ ct))

Receivers verify the signature with the sender's certified device key before decrypting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import primitives as P
from .encoding import pad, unpad
from .envelope import Envelope, Header, signed_bytes, split
from .epochs import message_key
from .errors import ProtocolError, VerificationError
from .keys import DeviceKeys

MAX_BODY_FIELDS = 64


def seal(body: dict[str, Any], *, epoch_key: bytes, device: DeviceKeys, thread_id: bytes, epoch: int,
         head_hash: bytes, msg_id: bytes, sender_user: bytes, client_ts_ms: int, msg_type: int = 1,
         nonce: bytes | None = None) -> bytes:
    """Encrypt and sign one message; returns the stored envelope bytes. `nonce` is for test
    vectors only (random 96-bit nonces: fewer than 2^32 messages per epoch is the bound)."""
    header = Header(msg_type, thread_id, epoch, head_hash, msg_id, sender_user, device.device_id,
                    client_ts_ms, nonce or P.random_bytes(P.NONCE_LEN)).encode()
    plaintext = pad(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    ciphertext = P.aes_gcm_encrypt(message_key(epoch_key, thread_id, epoch), header[-12:], plaintext, header)
    return header + ciphertext + P.sign(device.sig, signed_bytes(header, ciphertext))


def verify(data: bytes, sender_sig_pub: bytes) -> Envelope:
    """Structure and signature only (what a server or a relay can check)."""
    envelope = split(data)
    P.verify(sender_sig_pub, envelope.signature, signed_bytes(envelope.header_bytes, envelope.ciphertext))
    return envelope


def open_(data: bytes, *, sender_sig_pub: Callable[[Header], bytes] | bytes,
          epoch_key: Callable[[Header], bytes] | bytes) -> tuple[Header, dict[str, Any]]:
    """Verify, then decrypt. The callables let a client look up the key for the header's sender
    device and epoch only after the structure checks passed."""
    envelope = split(data)
    header = envelope.header
    public = sender_sig_pub(header) if callable(sender_sig_pub) else sender_sig_pub
    P.verify(public, envelope.signature, signed_bytes(envelope.header_bytes, envelope.ciphertext))
    key = epoch_key(header) if callable(epoch_key) else epoch_key
    plaintext = P.aes_gcm_decrypt(message_key(key, header.thread_id, header.epoch), header.nonce,
                                  envelope.ciphertext, envelope.header_bytes)
    try:
        body = json.loads(unpad(plaintext).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        # Signed by a certified device yet malformed: still a refusal, never a partial display.
        raise VerificationError("message body is not valid") from exc
    if not isinstance(body, dict) or len(body) > MAX_BODY_FIELDS:
        raise ProtocolError("message body must be a JSON object")
    return header, body
