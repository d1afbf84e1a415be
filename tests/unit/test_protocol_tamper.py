"""Every integrity failure is refused: tampered message headers, ciphertexts and signatures,
malformed structures, wrong keys, and TAF1 files truncated, reordered or extended."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import pytest

from cooperation_client.protocol import attachments, envelope, epochs, hpke, keys, messages, recovery
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.errors import ProtocolError, VerificationError
from cooperation_client.vectors import VECTORS_PATH, generate

V = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
h = bytes.fromhex
MSG = V["messages"][0]
BLOB = base64.b64decode(MSG["envelope"])
SIG_PUB, EPOCH_KEY = h(MSG["sender_sig_public"]), h(MSG["epoch_key"])


def _open(blob: bytes, sig_pub: bytes = SIG_PUB, key: bytes = EPOCH_KEY):
    return messages.open_(blob, sender_sig_pub=sig_pub, epoch_key=key)


def _flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


def test_untampered_message_opens():
    assert _open(BLOB)[1] == MSG["body"]


@pytest.mark.parametrize("index", [5, 6, 22, 30, 60, 80, 100, 110, 120])  # type, thread, epoch, head, ids, ts, nonce
def test_any_header_bit_flip_is_rejected(index):
    with pytest.raises(ProtocolError):
        _open(_flip(BLOB, index))


@pytest.mark.parametrize("where", ["ct_start", "ct_middle", "tag", "signature"])
def test_ciphertext_and_signature_tampering_is_rejected(where):
    ct_end = len(BLOB) - envelope.SIG_LEN
    index = {"ct_start": envelope.HEADER_LEN, "ct_middle": (envelope.HEADER_LEN + ct_end) // 2,
             "tag": ct_end - 1, "signature": len(BLOB) - 1}[where]
    with pytest.raises(VerificationError):
        _open(_flip(BLOB, index))


def test_resigned_tampered_ciphertext_still_fails_authentication():
    """A device that signs garbage (or a forged re-signature) cannot pass GCM with the header AAD."""
    device = keys.DeviceKeys.generate()
    ct_end = len(BLOB) - envelope.SIG_LEN
    tampered = _flip(BLOB[:ct_end], envelope.HEADER_LEN + 3)
    resigned = tampered + P.sign(device.sig, envelope.signed_bytes(tampered[:envelope.HEADER_LEN], tampered[envelope.HEADER_LEN:]))
    with pytest.raises(VerificationError, match="authentication"):
        _open(resigned, sig_pub=device.public().sig_pub)


def test_wrong_sender_key_or_epoch_key_is_rejected():
    with pytest.raises(VerificationError):
        _open(BLOB, sig_pub=keys.DeviceKeys.generate().public().sig_pub)
    with pytest.raises(VerificationError):
        _open(BLOB, key=bytes(32))


@pytest.mark.parametrize("blob", [b"", b"TEK1", BLOB[:125], b"TEK2" + BLOB[4:], BLOB[:4] + b"\x02" + BLOB[5:],
                                  BLOB[:5] + b"\x09" + BLOB[6:], BLOB[:-1], BLOB + b"\x00",
                                  BLOB[:22] + b"\x00\x00\x00\x00" + BLOB[26:]],
                         ids=["empty", "magic-only", "short-header", "magic", "suite", "type", "truncated", "extended", "epoch0"])
def test_server_side_structure_checks(blob):
    with pytest.raises(ProtocolError):
        envelope.split(blob)


def test_hpke_rejects_wrong_info_key_and_tampering():
    recipient = P.x25519_private(bytes(range(32)))
    blob = hpke.seal(P.public_bytes(recipient), b"info", b"k" * 32)
    with pytest.raises(VerificationError):
        hpke.open_(recipient, b"other", blob)
    with pytest.raises(VerificationError):
        hpke.open_(P.x25519_private(bytes(32 * [7])), b"info", blob)
    with pytest.raises(VerificationError):
        hpke.open_(recipient, b"info", _flip(blob, 40))


def test_epoch_wrap_cannot_be_moved_to_another_member_or_epoch():
    puk = keys.PerUserKey.generate(b"u" * 16, 1)
    blob = epochs.wrap_epoch_key(b"k" * 32, thread_id=b"t" * 16, epoch=3, user_id=puk.user_id, puk_gen=1, puk_dh_pub=puk.dh_pub)
    with pytest.raises(VerificationError):
        epochs.unwrap_epoch_key(puk, thread_id=b"t" * 16, epoch=4, blob=blob)
    with pytest.raises(VerificationError):
        epochs.unwrap_epoch_key(puk, thread_id=b"x" * 16, epoch=3, blob=blob)


@pytest.mark.parametrize("form", ["v2", "v1"])
def test_recovery_blob_rejects_wrong_key_user_and_tampering(form):
    r = V["recovery"]
    key, user = h(r["key"]), h(r["user_id"])
    blob = h(r["blob"] if form == "v2" else r["v1"]["blob"])
    for bad_key, bad_user, bad_blob in ((bytes(32), user, blob), (key, b"x" * 16, blob), (key, user, _flip(blob, 30)),
                                        (key, user, _flip(blob, len(blob) - 1)),
                                        (key, user, blob[:1] + b"\x00\x00\x00\x04" + blob[5:])):
        with pytest.raises(VerificationError):
            recovery.open_account_secrets(bad_key, bad_user, bad_blob)
    with pytest.raises(ProtocolError):  # an unknown format
        recovery.open_account_secrets(key, user, b"\x03" + blob[1:])


def _forged(secrets: recovery.AccountSecrets, public: bytes, binding: bytes) -> bytes:
    """A format 2 blob made by someone who knows a recovery public key (not the Recovery Key)."""
    return recovery.seal_recovery_blob(replace(secrets, recovery=recovery.RecoveryInfo(public, binding)), version=4)


def test_a_blob_not_bound_by_the_recovery_key_is_refused():
    """Knowing the recovery public key is not enough to make a blob the Recovery Key accepts: a
    blob with another identity key (or another recovery key, or no binding) fails the binding."""
    r = V["recovery"]
    key, user = h(r["key"]), h(r["user_id"])
    genuine = recovery.AccountSecrets.from_bytes(user, r["secrets"].encode())
    public = genuine.recovery.public
    assert recovery.open_account_secrets(key, user, _forged(genuine, public, genuine.recovery.binding)) == genuine
    impostor = keys.UserIdentity.generate(user)
    other = replace(genuine, uik_seed=impostor.seed)
    for forged in (_forged(other, public, genuine.recovery.binding), _forged(other, public, P.random_bytes(32)),
                   _forged(genuine, public, P.random_bytes(32))):
        with pytest.raises(VerificationError, match="not bound"):
            recovery.open_account_secrets(key, user, forged)
    # The same secrets without any recovery information, sealed to the right key: refused too.
    sealed_plain = recovery.AccountSecrets(user, genuine.uik_seed, genuine.puks)
    bare = (bytes([recovery.FORMAT_V2]) + (4).to_bytes(4, "big")
            + hpke.seal(public, recovery.blob_info(user, 4), sealed_plain.to_bytes()))
    with pytest.raises(VerificationError, match="not bound"):
        recovery.open_account_secrets(key, user, bare)
    with pytest.raises(ProtocolError):  # a device without the recovery public key cannot seal format 2
        recovery.seal_recovery_blob(sealed_plain, version=4)


def test_aes_gcm_refuses_non_96_bit_nonces():
    with pytest.raises(ProtocolError):
        P.aes_gcm_encrypt(bytes(32), bytes(8), b"x", b"")


# -- TAF1 ----------------------------------------------------------------------------------

KEY = bytes(range(32))
LOG2 = 12
CHUNK = (1 << LOG2) + attachments.TAG_LEN


def _taf(size: int) -> bytes:
    return attachments.encrypt_bytes(KEY, generate.pattern(size), log2_chunk=LOG2)


def _chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[attachments.HEADER_LEN:]
    return blob[:attachments.HEADER_LEN], [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]


def test_taf_truncation_at_a_chunk_boundary_is_rejected():
    header, chunks = _chunks(_taf(3 * 4096 + 10))
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(KEY, header + b"".join(chunks[:-1]))


def test_taf_truncation_inside_a_chunk_is_rejected():
    blob = _taf(3 * 4096 + 10)
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(KEY, blob[:-5])


def test_taf_reordered_chunks_are_rejected():
    header, chunks = _chunks(_taf(3 * 4096 + 10))
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(KEY, header + chunks[1] + chunks[0] + b"".join(chunks[2:]))


def test_taf_extension_and_duplicated_chunks_are_rejected():
    header, chunks = _chunks(_taf(2 * 4096))
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(KEY, header + chunks[0] + chunks[0] + chunks[1])
    with pytest.raises(VerificationError):  # an empty "final" chunk appended after a full last one
        attachments.decrypt_bytes(KEY, header + b"".join(chunks) + P.aes_gcm_encrypt(KEY, header[8:15] + b"\x00\x00\x00\x02\x01", b"", header))


def test_taf_header_tampering_and_wrong_key_are_rejected():
    blob = _taf(5000)
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(KEY, blob[:9] + bytes([blob[9] ^ 1]) + blob[10:])  # nonce prefix
    with pytest.raises(VerificationError):
        attachments.decrypt_bytes(bytes(32), blob)
    for bad in (b"TAF2" + blob[4:], blob[:6] + b"\x30" + blob[7:], blob[:7] + b"\x01" + blob[8:], blob[:10]):
        with pytest.raises(ProtocolError):
            attachments.decrypt_bytes(KEY, bad)


def test_taf_partial_output_is_only_authenticated_chunks():
    """Plaintext is written only for chunks that authenticated before the failure."""
    header, chunks = _chunks(_taf(3 * 4096 + 10))
    out = io.BytesIO()
    with pytest.raises(VerificationError):
        attachments.decrypt_stream(KEY, io.BytesIO(header + chunks[0] + _flip(chunks[1], 3) + chunks[2] + chunks[3]), out)
    assert out.getvalue() == generate.pattern(4096)


def test_client_package_never_imports_flask_or_the_application():
    """The server imports envelope checks from cooperation_client; never the other way round."""
    import subprocess
    import sys

    code = ("import sys, cooperation_client.protocol.envelope as e; light = set(sys.modules);"
            "import cooperation_client.protocol.events, cooperation_client.protocol.messages,"
            " cooperation_client.protocol.recovery, cooperation_client.protocol.fingerprints,"
            " cooperation_client.vectors.generate;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'cooperation', 'sqlalchemy')];"
            "print(bad, 'cryptography' in light)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] False"
