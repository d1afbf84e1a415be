"""Thread epoch keys (TEK): one random 32-byte key per thread epoch, HPKE-wrapped to each
member's current PUK, from which message and metadata keys are derived."""

from __future__ import annotations

import json
from typing import Any

from . import hpke
from . import primitives as P
from .encoding import check_id, label, u32
from .errors import ProtocolError
from .keys import PerUserKey

MAX_EPOCH = 0xFFFFFFFF


def new_epoch_key() -> bytes:
    return P.random_bytes(32)


def _check_epoch(epoch: int) -> int:
    if type(epoch) is not int or not 1 <= epoch <= MAX_EPOCH:
        raise ProtocolError("epoch out of range")
    return epoch


def message_key(epoch_key: bytes, thread_id: bytes, epoch: int) -> bytes:
    """k_msg: messages never use the epoch key itself, so a new use can get its own key."""
    return P.hkdf(epoch_key, salt=check_id(thread_id), info=label("TEK1 msg") + u32(_check_epoch(epoch)))


def meta_key(epoch_key: bytes, thread_id: bytes, epoch: int) -> bytes:
    """k_meta: thread title, case references, tags."""
    return P.hkdf(epoch_key, salt=check_id(thread_id), info=label("TEK1 meta") + u32(_check_epoch(epoch)))


def wrap_info(thread_id: bytes, epoch: int, user_id: bytes, puk_gen: int) -> bytes:
    """Binds a wrap to its thread, epoch, member and PUK generation: the server cannot move a
    wrap to another thread or member."""
    return label("TEK1/wrap") + check_id(thread_id) + u32(_check_epoch(epoch)) + check_id(user_id) + u32(puk_gen)


def wrap_epoch_key(epoch_key: bytes, *, thread_id: bytes, epoch: int, user_id: bytes, puk_gen: int,
                   puk_dh_pub: bytes, ephemeral_seed: bytes | None = None) -> bytes:
    if len(epoch_key) != 32:
        raise ProtocolError("epoch key must be 32 bytes")
    info = wrap_info(thread_id, epoch, user_id, puk_gen)
    if ephemeral_seed is not None:  # test vectors only
        return hpke.seal_with_ephemeral(ephemeral_seed, puk_dh_pub, info, epoch_key)
    return hpke.seal(puk_dh_pub, info, epoch_key)


def unwrap_epoch_key(puk: PerUserKey, *, thread_id: bytes, epoch: int, blob: bytes) -> bytes:
    key = hpke.open_(puk.dh, wrap_info(thread_id, epoch, puk.user_id, puk.gen), blob)
    if len(key) != 32:
        raise ProtocolError("wrapped epoch key has the wrong length")
    return key


# -- history links and encrypted metadata ---------------------------------------------------

def _history_parts(epoch_key: bytes, thread_id: bytes, epoch: int) -> tuple[bytes, bytes]:
    key = P.hkdf(epoch_key, salt=check_id(thread_id), info=label("TEK1 hist") + u32(_check_epoch(epoch)))
    return key, label("TEK1/hist") + thread_id + u32(epoch)


def history_link(epoch_key: bytes, previous_key: bytes, *, thread_id: bytes, epoch: int,
                 nonce: bytes | None = None) -> bytes:
    """K_{e-1} encrypted under K_e: with the "share history" policy a new member walks back."""
    key, aad = _history_parts(epoch_key, thread_id, epoch)
    nonce = nonce or P.random_bytes(P.NONCE_LEN)
    return nonce + P.aes_gcm_encrypt(key, nonce, previous_key, aad)


def open_history_link(epoch_key: bytes, link: bytes, *, thread_id: bytes, epoch: int) -> bytes:
    if len(link) != P.NONCE_LEN + 32 + P.TAG_LEN:
        raise ProtocolError("invalid history link")
    key, aad = _history_parts(epoch_key, thread_id, epoch)
    return P.aes_gcm_decrypt(key, link[:P.NONCE_LEN], link[P.NONCE_LEN:], aad)


def encrypt_meta(epoch_key: bytes, meta: dict[str, Any], *, thread_id: bytes, epoch: int,
                 nonce: bytes | None = None) -> bytes:
    """Thread metadata (title, case reference, tags) as nonce ‖ AES-GCM(k_meta, JSON)."""
    aad = label("TEK1/meta") + check_id(thread_id) + u32(epoch)
    nonce = nonce or P.random_bytes(P.NONCE_LEN)
    body = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return nonce + P.aes_gcm_encrypt(meta_key(epoch_key, thread_id, epoch), nonce, body, aad)


def decrypt_meta(epoch_key: bytes, blob: bytes, *, thread_id: bytes, epoch: int) -> dict[str, Any]:
    if len(blob) < P.NONCE_LEN + P.TAG_LEN:
        raise ProtocolError("metadata blob too short")
    aad = label("TEK1/meta") + check_id(thread_id) + u32(epoch)
    body = P.aes_gcm_decrypt(meta_key(epoch_key, thread_id, epoch), blob[:P.NONCE_LEN], blob[P.NONCE_LEN:], aad)
    try:
        meta = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("metadata is not UTF-8 JSON") from exc
    if not isinstance(meta, dict):
        raise ProtocolError("metadata must be a JSON object")
    return meta
