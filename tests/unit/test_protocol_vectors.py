"""The Python twin of the TEK1 protocol reproduces every shared test vector byte for byte
(the browser twin is held to the same file by tests/browser/test_protocol_vectors.py)."""

from __future__ import annotations

import base64
import io
import json

import pytest

from cooperation_client.protocol import attachments, envelope, epochs, events, fingerprints, hpke, keys, messages, recovery
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.encoding import pad, padded_length, unpad
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.statements import Signed, verify_statement
from cooperation_client.vectors import VECTORS_PATH, generate

V = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
h = bytes.fromhex


def test_vector_file_is_up_to_date_and_deterministic():
    assert generate.render() == VECTORS_PATH.read_text(encoding="utf-8")
    assert generate.main(["--check"]) == 0


def test_primitives():
    p = V["primitives"]
    x = P.x25519_private(h(p["x25519"]["private_seed"]))
    assert P.public_bytes(x).hex() == p["x25519"]["public"]
    assert P.x25519_shared(x, h(p["x25519"]["peer_public"])).hex() == p["x25519"]["shared"]
    ed = P.ed25519_private(h(p["ed25519"]["seed"]))
    assert P.sign(ed, h(p["ed25519"]["message"])).hex() == p["ed25519"]["signature"]
    g = p["aes_gcm"]
    assert P.aes_gcm_encrypt(h(g["key"]), h(g["nonce"]), h(g["plaintext"]), h(g["aad"])).hex() == g["ciphertext"]
    k = p["hkdf"]
    assert P.hkdf(h(k["ikm"]), salt=h(k["salt"]), info=h(k["info"])).hex() == k["okm"]


@pytest.mark.parametrize("case", V["hpke"], ids=lambda c: f"pt{len(c['plaintext']) // 2}")
def test_hpke_matches_cryptography_both_ways(case):
    recipient = P.x25519_private(h(case["recipient_seed"]))
    info, plaintext = h(case["info"]), h(case["plaintext"])
    blob = hpke.seal_with_ephemeral(h(case["ephemeral_seed"]), h(case["recipient_public"]), info, plaintext)
    assert blob.hex() == case["blob"]
    assert hpke.open_(recipient, info, blob) == plaintext
    fresh = hpke.seal(h(case["recipient_public"]), info, plaintext)  # cryptography's HPKE
    assert len(fresh) == len(blob) and fresh != blob
    assert hpke.open_(recipient, info, fresh) == plaintext


def test_key_hierarchy():
    k = V["keys"]
    device = keys.DeviceKeys.from_seeds(h(k["device"]["device_id"]), h(k["device"]["dh_seed"]), h(k["device"]["sig_seed"]))
    assert device.public().dh_pub.hex() == k["device"]["dh_public"]
    user = h(k["uik"]["user_id"])
    puk1, puk2 = (keys.PerUserKey(user, e["gen"], h(e["secret"])) for e in k["puk"])
    for puk, expected in zip((puk1, puk2), k["puk"], strict=True):
        assert (puk.dh_pub.hex(), puk.sig_pub.hex()) == (expected["dh_public"], expected["sig_public"])
    wrap = keys.wrap_puk_for_device(puk1, device.public(), ephemeral_seed=h(k["puk_wrap"]["ephemeral_seed"]))
    assert wrap.hex() == k["puk_wrap"]["blob"]
    assert keys.unwrap_puk(device, user, 1, wrap).secret == puk1.secret
    link = h(k["puk_prev_link"]["link"])
    assert keys.link_previous(puk2, puk1, nonce=h(k["puk_prev_link"]["nonce"])) == link
    assert keys.open_previous(puk2, link).secret == puk1.secret
    uik_pub = h(k["uik"]["public"])
    cert = Signed.from_json(k["device_cert"])
    assert keys.verify_device_cert(cert, uik_pub, user) == device.public()
    assert keys.verify_puk_record(Signed.from_json(k["puk_record"]), uik_pub, user)[0] == 2
    body = verify_statement(Signed.from_json(k["user_cert"]), "user-cert", h(k["authority"]["public"]))
    assert body["state"] == "NLD" and body["admin"] is True


def test_epoch_keys():
    e = V["epochs"]
    thread, key = h(e["thread_id"]), h(e["epoch_key"])
    assert epochs.message_key(key, thread, 2).hex() == e["message_key"]
    assert epochs.meta_key(key, thread, 2).hex() == e["meta_key"]
    w = e["wrap"]
    puk = keys.PerUserKey(h(w["user_id"]), 1, h(w["puk_secret"]))
    blob = epochs.wrap_epoch_key(h(w["epoch_key"]), thread_id=thread, epoch=1, user_id=puk.user_id, puk_gen=1,
                                 puk_dh_pub=puk.dh_pub, ephemeral_seed=h(w["ephemeral_seed"]))
    assert blob.hex() == w["blob"]
    assert epochs.unwrap_epoch_key(puk, thread_id=thread, epoch=1, blob=blob).hex() == w["epoch_key"]
    link = h(e["history_link"]["link"])
    assert epochs.open_history_link(key, link, thread_id=thread, epoch=2).hex() == e["previous_key"]
    assert epochs.decrypt_meta(key, h(e["meta"]["blob"]), thread_id=thread, epoch=2) == e["meta"]["value"]


def test_padding_buckets():
    for case in V["padding"]:
        assert padded_length(case["length"]) == case["padded"]
        data = b"\x80" * case["length"]  # the marker byte inside the data must not confuse unpad
        assert unpad(pad(data)) == data


@pytest.mark.parametrize("case", V["messages"], ids=lambda c: f"type{c['type']}-{len(c['envelope'])}")
def test_messages(case):
    blob = base64.b64decode(case["envelope"])
    device = keys.DeviceKeys.from_seeds(h(V["keys"]["device"]["device_id"]), h(V["keys"]["device"]["dh_seed"]),
                                        h(V["keys"]["device"]["sig_seed"]))
    sealed = messages.seal(case["body"], epoch_key=h(case["epoch_key"]), device=device, thread_id=h(case["thread_id"]),
                           epoch=case["epoch"], head_hash=h(case["head_hash"]), msg_id=h(case["msg_id"]),
                           sender_user=h(case["sender_user"]), client_ts_ms=case["client_ts_ms"], nonce=h(case["nonce"]))
    assert sealed == blob
    header, body = messages.open_(blob, sender_sig_pub=h(case["sender_sig_public"]), epoch_key=h(case["epoch_key"]))
    assert body == case["body"]
    assert header.encode().hex() == case["header"]
    parsed = envelope.parse_header(blob)  # what the server sees
    assert (parsed.epoch, parsed.msg_id.hex(), parsed.client_ts_ms) == (case["epoch"], case["msg_id"], case["client_ts_ms"])


@pytest.mark.parametrize("case", V["attachments"], ids=lambda c: f"{c['plaintext_size']}B-2^{c['log2_chunk']}")
def test_attachments(case):
    plaintext, key, blob = generate.pattern(case["plaintext_size"]), h(case["key"]), base64.b64decode(case["ciphertext"])
    produced = attachments.encrypt_bytes(key, plaintext, log2_chunk=case["log2_chunk"], nonce_prefix=h(case["nonce_prefix"]))
    assert produced == blob
    assert len(blob) == case["ciphertext_size"] == attachments.ciphertext_size(len(plaintext), case["log2_chunk"])
    out = io.BytesIO()
    result = attachments.decrypt_stream(key, io.BytesIO(blob), out)
    assert out.getvalue() == plaintext
    assert result.digest.hex() == case["digest"] == attachments.digest_stream(io.BytesIO(blob)).digest.hex()
    assert attachments.digest_stream(io.BytesIO(blob)).plaintext_size == len(plaintext)


def test_recovery_key_and_blob():
    r = V["recovery"]
    key = h(r["key"])
    assert recovery.format_recovery_key(key) == r["formatted"]
    assert len(r["formatted"].replace(" ", "")) == 52 and all(len(g) == 4 for g in r["formatted"].split())
    for text in r["also_accepted"]:
        assert recovery.parse_recovery_key(text) == key
    for text in r["rejected"]:
        with pytest.raises(ProtocolError):
            recovery.parse_recovery_key(text)
    user = h(r["user_id"])
    uik_pub = h(V["keys"]["uik"]["public"])
    # Format 2: HPKE to the recovery public key carried in the secrets, bound to the identity key.
    info = recovery.recovery_info(key, user, uik_pub)
    assert (info.public.hex(), info.binding.hex()) == (r["kem_public"], r["binding"])
    assert P.public_bytes(recovery.recovery_kem(key)).hex() == r["kem_public"]
    secrets = recovery.AccountSecrets.from_bytes(user, r["secrets"].encode())
    assert secrets.recovery == info and secrets.to_bytes().decode() == r["secrets"]
    blob = recovery.seal_recovery_blob(secrets, version=r["version"], ephemeral_seed=h(r["ephemeral_seed"]))
    assert blob.hex() == r["blob"] and blob[0] == recovery.FORMAT_V2
    opened = recovery.open_account_secrets(key, user, blob)
    assert opened == secrets and opened.identity().public == uik_pub
    # A fresh seal (random ephemeral key, cryptography's HPKE) opens as well.
    assert recovery.open_account_secrets(key, user, recovery.seal_recovery_blob(secrets, version=9)) == secrets
    # Format 1 (enrolments made before format 2) still opens, and comes back with the recovery
    # information derived from the key, so the next seal is format 2.
    v1 = r["v1"]
    old = recovery.AccountSecrets.from_bytes(user, v1["secrets"].encode())
    assert old.recovery is None
    assert recovery.seal_account_secrets_v1(key, old, version=v1["version"], nonce=h(v1["nonce"])).hex() == v1["blob"]
    assert recovery.open_account_secrets(key, user, h(v1["blob"])) == secrets


def test_fingerprints():
    f = V["fingerprints"]
    assert fingerprints.state_fingerprint("NLD", h(f["state"]["public"])) == f["state"]["digits"]
    users = [(h(u["user_id"]), h(u["uik_public"])) for u in f["users"]]
    for user, expected in zip(users, f["users"], strict=True):
        assert fingerprints.user_fingerprint(*user) == expected["digits"]
    assert len(f["safety_number"]) == 60 and f["safety_number"].isdigit()
    assert fingerprints.safety_number(*users) == fingerprints.safety_number(*reversed(users)) == f["safety_number"]
    assert len(fingerprints.group(f["state"]["digits"]).split()) == 12
    code = fingerprints.thread_safety_code(h(f["thread"]["thread_id"]), h(f["thread"]["head_hash"]), users)
    assert code == f["thread"]["digits"]


def test_thread_log_replays_to_the_expected_state():
    log = V["log"]
    directory = events.Directory(
        {h(u["user"]): events.UserInfo(u["state"], u["admin"]) for u in log["directory"]["users"]},
        {(h(d["user"]), h(d["device"])): h(d["sig_public"]) for d in log["directory"]["devices"]})
    statements = [Signed.from_json(e) for e in log["events"]]
    assert [events.event_hash(s.payload).hex() for s in statements] == log["event_hashes"]
    state = events.replay(statements, directory, h(log["thread_id"]))
    final = log["final"]
    assert (state.seq, state.epoch, state.head_hash.hex()) == (final["seq"], final["epoch"], final["head_hash"])
    assert sorted(u.hex() for u in state.members) == final["members"] and sorted(state.states) == final["states"]
    # every member can unwrap the key of every epoch it belonged to
    for epoch, wraps in state.wraps.items():
        for user, (gen, blob) in wraps.items():
            puk = keys.PerUserKey(user, gen, h(log["puk_secrets"][user.hex()]))
            assert epochs.unwrap_epoch_key(puk, thread_id=state.thread_id, epoch=epoch, blob=blob).hex() == \
                log["epoch_keys"][str(epoch)]
    for epoch, link in state.history.items():
        assert epochs.open_history_link(h(log["epoch_keys"][str(epoch)]), link, thread_id=state.thread_id,
                                        epoch=epoch).hex() == log["epoch_keys"][str(epoch - 1)]
