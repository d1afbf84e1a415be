"""Generate tek1-vectors.json: fixed inputs and expected outputs for every TEK suite 1 format.

All randomness is fixed: every key, nonce and ephemeral key is `seed(name)` =
SHA-256("TEK1 vectors/" ‖ name). Running it twice gives identical bytes, and the Python and
browser tests both check their implementation against the file.

    python -m cooperation_client.vectors.generate          # rewrite the file
    python -m cooperation_client.vectors.generate --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from typing import Any

from cooperation_client.protocol import attachments, envelope, epochs, events, fingerprints, hpke, keys, messages, recovery
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.encoding import b64e, padded_length
from cooperation_client.protocol.statements import Signed
from cooperation_client.vectors import VECTORS_PATH


def seed(name: str, length: int = 32) -> bytes:
    return hashlib.sha256(b"TEK1 vectors/" + name.encode()).digest()[:length]


def pattern(size: int) -> bytes:
    """Attachment plaintext both twins can regenerate: byte i is i mod 251."""
    return bytes(i % 251 for i in range(size))


def hx(data: bytes) -> str:
    return data.hex()


def _primitives() -> dict[str, Any]:
    x_priv, x_peer = P.x25519_private(seed("x25519/a")), P.x25519_private(seed("x25519/b"))
    ed = P.ed25519_private(seed("ed25519"))
    message = "TEK1 primitive vector – €".encode()
    return {
        "x25519": {"private_seed": hx(seed("x25519/a")), "public": hx(P.public_bytes(x_priv)),
                   "peer_public": hx(P.public_bytes(x_peer)),
                   "shared": hx(P.x25519_shared(x_priv, P.public_bytes(x_peer)))},
        "ed25519": {"seed": hx(seed("ed25519")), "public": hx(P.public_bytes(ed)), "message": hx(message),
                    "signature": hx(P.sign(ed, message))},
        "hkdf": {"ikm": hx(seed("hkdf/ikm")), "salt": hx(seed("hkdf/salt", 16)), "info": hx(b"TEK1 msg\x00\x00\x00\x01"),
                 "length": 32, "okm": hx(P.hkdf(seed("hkdf/ikm"), salt=seed("hkdf/salt", 16),
                                                info=b"TEK1 msg\x00\x00\x00\x01"))},
        "aes_gcm": {"key": hx(seed("gcm/key")), "nonce": hx(seed("gcm/nonce", 12)), "aad": hx(b"TEK1 aad"),
                    "plaintext": hx(message),
                    "ciphertext": hx(P.aes_gcm_encrypt(seed("gcm/key"), seed("gcm/nonce", 12), message, b"TEK1 aad"))},
        "sha512": {"input": hx(message), "digest": hx(P.sha512(message))},
    }


def _hpke() -> list[dict[str, Any]]:
    cases = []
    for index, plaintext in enumerate((seed("hpke/pt0"), b"", "ünïcode".encode())):
        recipient = P.x25519_private(seed(f"hpke/recipient{index}"))
        info = b"TEK1/wrap vector " + bytes([index])
        blob = hpke.seal_with_ephemeral(seed(f"hpke/eph{index}"), P.public_bytes(recipient), info, plaintext)
        if hpke.open_(recipient, info, blob) != plaintext:  # cross-check with cryptography's HPKE
            raise SystemExit("HPKE vector does not open with cryptography's implementation")
        cases.append({"recipient_seed": hx(seed(f"hpke/recipient{index}")), "recipient_public": hx(P.public_bytes(recipient)),
                      "ephemeral_seed": hx(seed(f"hpke/eph{index}")), "info": hx(info), "plaintext": hx(plaintext),
                      "blob": hx(blob)})
    return cases


def _ids() -> dict[str, bytes]:
    return {name: seed(f"id/{name}", 16) for name in
            ("thread", "nl_admin", "nl_member", "sn_admin", "sn_member", "dev_nl_admin", "dev_nl_member",
             "dev_sn_admin", "dev_sn_member", "msg1", "msg2")}


def _device(ids: dict[str, bytes], who: str) -> keys.DeviceKeys:
    return keys.DeviceKeys.from_seeds(ids[f"dev_{who}"], seed(f"device/{who}/dh"), seed(f"device/{who}/sig"))


def _puk(ids: dict[str, bytes], who: str, gen: int = 1) -> keys.PerUserKey:
    return keys.PerUserKey(ids[who], gen, seed(f"puk/{who}/{gen}"))


def _keys(ids: dict[str, bytes]) -> dict[str, Any]:
    device, uik = _device(ids, "nl_admin"), keys.UserIdentity.from_seed(ids["nl_admin"], seed("uik/nl_admin"))
    puk1, puk2 = _puk(ids, "nl_admin", 1), _puk(ids, "nl_admin", 2)
    authority = P.ed25519_private(seed("authority/NLD"))
    cert = keys.certify_device(uik, device.public(), label_text="Firefox – The Hague", created_ms=1767225600000)
    user_cert = keys.certify_user(authority, user_id=ids["nl_admin"], state="NLD", role="state_focal_point",
                                  admin=True, uik_pub=uik.public, valid_until_ms=1798761600000)
    link = keys.link_previous(puk2, puk1, nonce=seed("puk/link-nonce", 12))
    return {
        "device": {"device_id": hx(device.device_id), "dh_seed": hx(seed("device/nl_admin/dh")),
                   "sig_seed": hx(seed("device/nl_admin/sig")), "dh_public": hx(device.public().dh_pub),
                   "sig_public": hx(device.public().sig_pub)},
        "uik": {"user_id": hx(ids["nl_admin"]), "seed": hx(uik.seed), "public": hx(uik.public)},
        "authority": {"state": "NLD", "seed": hx(seed("authority/NLD")), "public": hx(P.public_bytes(authority))},
        "puk": [{"user_id": hx(p.user_id), "gen": p.gen, "secret": hx(p.secret), "dh_public": hx(p.dh_pub),
                 "sig_public": hx(p.sig_pub)} for p in (puk1, puk2)],
        "puk_wrap": {"gen": 1, "ephemeral_seed": hx(seed("puk/wrap-eph")),
                     "info": hx(keys.puk_wrap_info(ids["nl_admin"], 1, device.device_id)),
                     "blob": hx(keys.wrap_puk_for_device(puk1, device.public(), ephemeral_seed=seed("puk/wrap-eph")))},
        "puk_prev_link": {"newer_gen": 2, "nonce": hx(seed("puk/link-nonce", 12)), "link": hx(link)},
        "device_cert": Signed.to_json(cert), "user_cert": Signed.to_json(user_cert),
        "puk_record": Signed.to_json(keys.puk_record(uik, puk2, prev_link=link)),
    }


def _epochs(ids: dict[str, bytes]) -> dict[str, Any]:
    thread, key, puk = ids["thread"], seed("epoch/1"), _puk(ids, "nl_member")
    wrap = epochs.wrap_epoch_key(key, thread_id=thread, epoch=1, user_id=puk.user_id, puk_gen=1,
                                 puk_dh_pub=puk.dh_pub, ephemeral_seed=seed("epoch/wrap-eph"))
    meta = {"case_reference": "ICC-01/22-REG", "title": "Freezing request – Rotterdam accounts"}
    return {
        "thread_id": hx(thread), "epoch": 2, "epoch_key": hx(seed("epoch/2")), "previous_key": hx(key),
        "message_key": hx(epochs.message_key(seed("epoch/2"), thread, 2)),
        "meta_key": hx(epochs.meta_key(seed("epoch/2"), thread, 2)),
        "wrap": {"epoch": 1, "epoch_key": hx(key), "user_id": hx(puk.user_id), "puk_gen": 1, "puk_secret": hx(puk.secret),
                 "ephemeral_seed": hx(seed("epoch/wrap-eph")), "info": hx(epochs.wrap_info(thread, 1, puk.user_id, 1)),
                 "blob": hx(wrap)},
        "history_link": {"nonce": hx(seed("epoch/hist-nonce", 12)),
                         "link": hx(epochs.history_link(seed("epoch/2"), key, thread_id=thread, epoch=2,
                                                        nonce=seed("epoch/hist-nonce", 12)))},
        "meta": {"value": meta, "nonce": hx(seed("epoch/meta-nonce", 12)),
                 "blob": hx(epochs.encrypt_meta(seed("epoch/2"), meta, thread_id=thread, epoch=2,
                                                nonce=seed("epoch/meta-nonce", 12)))},
    }


def _messages(ids: dict[str, bytes]) -> list[dict[str, Any]]:
    device = _device(ids, "nl_admin")
    bodies = [
        {"v": 1, "text": "Bank records attached – €2.3m frozen at ING.", "reply_to": None, "attachments": [
            {"file_id": hx(seed("file/1", 16)), "name": "statements-2025.pdf", "mime": "application/pdf",
             "size": 4101, "digest": hx(seed("file/1/sha")), "key": hx(seed("file/1/key")), "chunk_log2": 12}]},
        {"v": 1, "text": "x" * 5000},
    ]
    cases = []
    for index, body in enumerate(bodies):
        blob = messages.seal(body, epoch_key=seed("epoch/2"), device=device, thread_id=ids["thread"], epoch=2,
                             head_hash=seed("head"), msg_id=ids[f"msg{index + 1}"], sender_user=ids["nl_admin"],
                             client_ts_ms=1767225600123 + index, nonce=seed(f"msg/nonce{index}", 12))
        header = envelope.parse_header(blob)
        cases.append({"body": body, "epoch_key": hx(seed("epoch/2")), "nonce": hx(header.nonce),
                      "thread_id": hx(header.thread_id), "epoch": header.epoch, "head_hash": hx(header.head_hash),
                      "msg_id": hx(header.msg_id), "sender_user": hx(header.sender_user),
                      "sender_device": hx(header.sender_device), "client_ts_ms": header.client_ts_ms,
                      "type": header.type, "sender_sig_public": hx(device.public().sig_pub),
                      "header": hx(blob[:envelope.HEADER_LEN]), "envelope": b64e(blob)})
    return cases


def _attachments() -> list[dict[str, Any]]:
    cases = []
    for index, (size, log2) in enumerate(((0, 12), (1, 12), (4096, 12), (4097, 12), (3 * 4096 + 5, 12), (70000, 16))):
        key, prefix = seed(f"taf/key{index}"), seed(f"taf/prefix{index}", 7)
        blob = attachments.encrypt_bytes(key, pattern(size), log2_chunk=log2, nonce_prefix=prefix)
        cases.append({"plaintext_size": size, "plaintext": "pattern", "log2_chunk": log2, "key": hx(key),
                      "nonce_prefix": hx(prefix), "ciphertext_size": len(blob),
                      "digest": hx(attachments.digest_stream(io.BytesIO(blob)).digest), "ciphertext": b64e(blob)})
    return cases


def _recovery(ids: dict[str, bytes]) -> dict[str, Any]:
    key = seed("recovery/key")
    user, uik_seed = ids["nl_admin"], seed("uik/nl_admin")
    info = recovery.recovery_info(key, user, P.public_bytes(P.ed25519_private(uik_seed)))
    secrets = recovery.AccountSecrets(user, uik_seed, (_puk(ids, "nl_admin", 1), _puk(ids, "nl_admin", 2)), info)
    blob = recovery.seal_recovery_blob(secrets, version=3, ephemeral_seed=seed("recovery/eph"))
    if recovery.open_account_secrets(key, user, blob) != secrets:  # opens with cryptography's HPKE
        raise SystemExit("recovery vector does not open")
    old = recovery.AccountSecrets(user, uik_seed, secrets.puks)
    formatted = recovery.format_recovery_key(key)
    return {"key": hx(key), "formatted": formatted,
            "also_accepted": [formatted.lower(), formatted.replace(" ", "-"), formatted.replace(" ", "")],
            "rejected": [formatted[:-1], formatted[:-1] + "9", formatted[:-1] + "Z"],
            "user_id": hx(user), "version": 3,
            "kem_public": hx(info.public), "binding": hx(info.binding),
            "secrets": secrets.to_bytes().decode(), "ephemeral_seed": hx(seed("recovery/eph")), "blob": hx(blob),
            "v1": {"version": 3, "nonce": hx(seed("recovery/nonce", 12)), "secrets": old.to_bytes().decode(),
                   "blob": hx(recovery.seal_account_secrets_v1(key, old, version=3, nonce=seed("recovery/nonce", 12)))}}


def _fingerprints(ids: dict[str, bytes]) -> dict[str, Any]:
    a = (ids["nl_admin"], P.public_bytes(P.ed25519_private(seed("uik/nl_admin"))))
    b = (ids["sn_admin"], P.public_bytes(P.ed25519_private(seed("uik/sn_admin"))))
    authority = P.public_bytes(P.ed25519_private(seed("authority/NLD")))
    return {
        "state": {"state": "NLD", "public": hx(authority), "digits": fingerprints.state_fingerprint("NLD", authority)},
        "users": [{"user_id": hx(u), "uik_public": hx(k), "digits": fingerprints.user_fingerprint(u, k)} for u, k in (a, b)],
        "safety_number": fingerprints.safety_number(a, b),
        "thread": {"thread_id": hx(ids["thread"]), "head_hash": hx(seed("head")),
                   "digits": fingerprints.thread_safety_code(ids["thread"], seed("head"), [b, a])},
    }


def _log(ids: dict[str, bytes]) -> dict[str, Any]:
    """A whole thread history: create, add a State, add and remove users, rotate, policy, rename."""
    people = {"nl_admin": ("NLD", True), "nl_member": ("NLD", False), "sn_admin": ("SEN", True),
              "sn_member": ("SEN", False)}
    directory = events.Directory()
    for who, (state, admin) in people.items():
        directory.users[ids[who]] = events.UserInfo(state, admin)
        directory.devices[(ids[who], ids[f"dev_{who}"])] = _device(ids, who).public().sig_pub
    thread = ids["thread"]

    def recipients(members: list[str]) -> dict[bytes, tuple[int, bytes]]:
        return {ids[m]: (1, _puk(ids, m).dh_pub) for m in members}

    def record(epoch: int, members: list[str], history: bool) -> dict[str, Any]:
        return events.keys_record(epoch_key=seed(f"log/epoch{epoch}"), thread_id=thread, epoch=epoch,
                                  recipients=recipients(members),
                                  previous_key=seed(f"log/epoch{epoch - 1}") if history else None,
                                  ephemeral_seeds={ids[m]: seed(f"log/eph{epoch}/{m}") for m in members},
                                  history_nonce=seed(f"log/hist{epoch}", 12))

    def member(who: str) -> dict[str, str]:
        return {"user": hx(ids[who]), "state": people[who][0]}

    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("nl_admin", "create", {"owner_state": "NLD", "states": ["NLD"], "members": [member("nl_admin")],
                                "policy": dict(events.DEFAULT_POLICY), "keys": record(1, ["nl_admin"], False),
                                "meta": b64e(epochs.encrypt_meta(seed("log/epoch1"), {"title": "Asset tracing"},
                                                                 thread_id=thread, epoch=1, nonce=seed("log/meta", 12)))}),
        ("nl_admin", "add_state", {"state": "SEN", "members": [member("sn_admin")],
                                   "keys": record(2, ["nl_admin", "sn_admin"], True)}),
        ("nl_admin", "add_user", {"user": hx(ids["nl_member"]), "state": "NLD",
                                  "keys": record(3, ["nl_admin", "sn_admin", "nl_member"], True)}),
        ("sn_admin", "add_user", {"user": hx(ids["sn_member"]), "state": "SEN",
                                  "keys": record(4, ["nl_admin", "sn_admin", "nl_member", "sn_member"], True)}),
        ("sn_admin", "remove_user", {"user": hx(ids["sn_member"]),
                                     "keys": record(5, ["nl_admin", "sn_admin", "nl_member"], True)}),
        ("nl_member", "rotate", {"reason": "scheduled", "keys": record(6, ["nl_admin", "sn_admin", "nl_member"], True)}),
        ("nl_admin", "set_policy", {"policy": {"share_history": False, "members_add_colleagues": True}}),
        ("nl_member", "rename", {"meta": b64e(epochs.encrypt_meta(seed("log/epoch6"), {"title": "Renamed"},
                                                                   thread_id=thread, epoch=6, nonce=seed("log/meta6", 12)))}),
        ("nl_admin", "remove_state", {"state": "SEN", "keys": record(7, ["nl_admin", "nl_member"], False)}),
    ]
    log: list[Signed] = []
    state = None
    for index, (actor, event_type, body) in enumerate(steps):
        device = _device(ids, actor)
        common = {"actor": ids[actor], "device_id": device.device_id, "device_key": device.sig,
                  "ts_ms": 1767225600000 + 1000 * index}
        if state is None:
            statement = events.make_event(event_type, body, thread_id=thread, seq=0, prev_hash=events.ZERO_HASH,
                                          epoch=1, **common)
        else:
            statement = events.next_event(state, event_type, body, **common)
        log.append(statement)
        state = events.replay(log, directory, thread)
    if state is None:
        raise SystemExit("empty log")
    return {
        "thread_id": hx(thread),
        "directory": {"users": [{"user": hx(u), "state": i.state, "admin": i.admin} for u, i in directory.users.items()],
                      "devices": [{"user": hx(u), "device": hx(d), "sig_public": hx(k)}
                                  for (u, d), k in directory.devices.items()]},
        "puk_secrets": {hx(ids[who]): hx(_puk(ids, who).secret) for who in people},
        "epoch_keys": {str(e): hx(seed(f"log/epoch{e}")) for e in range(1, 8)},
        "events": [s.to_json() for s in log],
        "event_hashes": [hx(events.event_hash(s.payload)) for s in log],
        "final": {"seq": state.seq, "epoch": state.epoch, "head_hash": hx(state.head_hash),
                  "states": sorted(state.states), "members": sorted(hx(u) for u in state.members),
                  "policy": dict(state.policy)},
    }


def build() -> dict[str, Any]:
    ids = _ids()
    return {
        "suite": 1,
        "about": "TEK suite 1 test vectors; see platform/cooperation_client/PROTOCOL.md. Bytes are lowercase "
                 "hex unless a field is base64 (envelope, ciphertext, statements). Generated by generate.py.",
        "primitives": _primitives(),
        "hpke": _hpke(),
        "keys": _keys(ids),
        "epochs": _epochs(ids),
        "padding": [{"length": n, "padded": padded_length(n)} for n in (0, 1, 255, 256, 4094, 4095, 4096, 10000, 65536)],
        "messages": _messages(ids),
        "attachments": _attachments(),
        "recovery": _recovery(ids),
        "fingerprints": _fingerprints(ids),
        "log": _log(ids),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = VECTORS_PATH.read_text(encoding="utf-8") if VECTORS_PATH.exists() else ""
        if current != text:
            print(f"{VECTORS_PATH} is stale: run python -m cooperation_client.vectors.generate", file=sys.stderr)
            return 1
        return 0
    VECTORS_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
