"""The browser twin of the TEK1 protocol (static/js/e2e/, WebCrypto only) in Debian's Chromium:
it reproduces the shared test vectors byte for byte, and interoperates with the Python twin in
both directions (messages, epoch-key wraps, multi-chunk attachments).

The modules are loaded from the live server's /static/ with dynamic import() from a page of the
same origin (127.0.0.1 is a secure context, so crypto.subtle exists); nothing is added to the
application's templates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from cooperation_client.protocol import attachments, epochs, keys, messages
from cooperation_client.vectors import VECTORS_PATH

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
E2E = "/static/js/e2e/"

# Runs every vector family in the page; returns a list of failures (empty = all match).
CHECK_VECTORS = """
async (V) => {
  const B = await import('/static/js/e2e/bytes.js'), P = await import('/static/js/e2e/primitives.js');
  const H = await import('/static/js/e2e/hpke.js'), K = await import('/static/js/e2e/keys.js');
  const T = await import('/static/js/e2e/tek1.js'), F = await import('/static/js/e2e/taf1.js');
  const R = await import('/static/js/e2e/recovery.js'), FP = await import('/static/js/e2e/fingerprints.js');
  const h = (x) => B.unhex(x), fails = [], checked = [];
  const eq = (name, got, want) => { checked.push(name); if (got !== want) fails.push(`${name}: ${got} != ${want}`); };
  const pattern = (n) => Uint8Array.from({length: n}, (_, i) => i % 251);
  // primitives
  const p = V.primitives;
  eq('x25519.public', B.hex(await P.publicFromSeed('X25519', h(p.x25519.private_seed))), p.x25519.public);
  const xk = await P.importPrivate('X25519', h(p.x25519.private_seed));
  eq('x25519.shared', B.hex(await P.x25519(xk, h(p.x25519.peer_public))), p.x25519.shared);
  const ek = await P.importPrivate('Ed25519', h(p.ed25519.seed));
  eq('ed25519.sig', B.hex(await P.sign(ek, h(p.ed25519.message))), p.ed25519.signature);
  eq('hkdf', B.hex(await P.hkdf(h(p.hkdf.ikm), {salt: h(p.hkdf.salt), info: h(p.hkdf.info)})), p.hkdf.okm);
  eq('gcm', B.hex(await P.aesGcmEncrypt(h(p.aes_gcm.key), h(p.aes_gcm.nonce), h(p.aes_gcm.plaintext), h(p.aes_gcm.aad))), p.aes_gcm.ciphertext);
  eq('sha512', B.hex(await P.sha512(h(p.sha512.input))), p.sha512.digest);
  // HPKE
  for (const [i, c] of V.hpke.entries()) {
    const blob = await H.seal(h(c.recipient_public), h(c.info), h(c.plaintext), h(c.ephemeral_seed));
    eq(`hpke${i}.seal`, B.hex(blob), c.blob);
    const rk = await P.importPrivate('X25519', h(c.recipient_seed));
    eq(`hpke${i}.open`, B.hex(await H.open(rk, h(c.recipient_public), h(c.info), h(c.blob))), c.plaintext);
  }
  // keys
  const k = V.keys;
  const dev = await K.deviceFromSeeds(h(k.device.device_id), h(k.device.dh_seed), h(k.device.sig_seed));
  eq('device.dh', B.hex(dev.dhPub), k.device.dh_public); eq('device.sig', B.hex(dev.sigPub), k.device.sig_public);
  let extractable = 'refused';
  try { await crypto.subtle.exportKey('pkcs8', dev.dh); extractable = 'exported'; } catch (e) {}
  eq('device.non_extractable', extractable, 'refused');
  const user = h(k.uik.user_id);
  const puk1 = await K.perUserKey(user, 1, h(k.puk[0].secret)), puk2 = await K.perUserKey(user, 2, h(k.puk[1].secret));
  eq('puk1.dh', B.hex(puk1.dhPub), k.puk[0].dh_public); eq('puk2.sig', B.hex(puk2.sigPub), k.puk[1].sig_public);
  eq('puk.wrap', B.hex(await K.wrapPukForDevice(puk1, dev, h(k.puk_wrap.ephemeral_seed))), k.puk_wrap.blob);
  eq('puk.unwrap', B.hex((await K.unwrapPuk(dev, user, 1, h(k.puk_wrap.blob))).secret), k.puk[0].secret);
  eq('puk.link', B.hex(await K.linkPrevious(puk2, puk1, h(k.puk_prev_link.nonce))), k.puk_prev_link.link);
  eq('puk.open_prev', B.hex((await K.openPrevious(puk2, h(k.puk_prev_link.link))).secret), k.puk[0].secret);
  const cert = await K.verifyDeviceCert(K.statementFromJson(k.device_cert), h(k.uik.public), user);
  eq('device_cert', B.hex(cert.sigPub), k.device.sig_public);
  const uik = await P.importPrivate('Ed25519', h(k.uik.seed));
  const own = await K.signStatement('device-cert', JSON.parse(new TextDecoder().decode(B.unb64(k.device_cert.payload))), uik);
  eq('statement.bytes_and_sig', B.b64(own.signature), k.device_cert.sig);
  // epochs
  const e = V.epochs, tid = h(e.thread_id), key = h(e.epoch_key);
  eq('k_msg', B.hex(await K.messageKey(key, tid, 2)), e.message_key); eq('k_meta', B.hex(await K.metaKey(key, tid, 2)), e.meta_key);
  const wpuk = await K.perUserKey(h(e.wrap.user_id), 1, h(e.wrap.puk_secret));
  eq('epoch.wrap', B.hex(await K.wrapEpochKey(h(e.wrap.epoch_key), {threadId: tid, epoch: 1, userId: wpuk.userId, pukGen: 1,
    pukDhPub: wpuk.dhPub, ephemeralSeed: h(e.wrap.ephemeral_seed)})), e.wrap.blob);
  eq('epoch.unwrap', B.hex(await K.unwrapEpochKey(wpuk, {threadId: tid, epoch: 1, blob: h(e.wrap.blob)})), e.wrap.epoch_key);
  eq('history', B.hex(await K.historyLink(key, h(e.previous_key), {threadId: tid, epoch: 2, nonce: h(e.history_link.nonce)})), e.history_link.link);
  eq('meta.seal', B.hex(await K.encryptMeta(key, e.meta.value, {threadId: tid, epoch: 2, nonce: h(e.meta.nonce)})), e.meta.blob);
  eq('meta.open', JSON.stringify(await K.decryptMeta(key, h(e.meta.blob), {threadId: tid, epoch: 2})), JSON.stringify(e.meta.value));
  for (const c of V.padding) eq(`pad${c.length}`, B.paddedLength(c.length), c.padded);
  // messages
  for (const [i, m] of V.messages.entries()) {
    const blob = await T.seal(m.body, {epochKey: h(m.epoch_key), device: dev, threadId: h(m.thread_id), epoch: m.epoch,
      headHash: h(m.head_hash), msgId: h(m.msg_id), senderUser: h(m.sender_user), clientTsMs: m.client_ts_ms, nonce: h(m.nonce)});
    eq(`msg${i}.seal`, B.b64(blob), m.envelope);
    const opened = await T.open(B.unb64(m.envelope), {senderSigPub: h(m.sender_sig_public), epochKey: h(m.epoch_key)});
    eq(`msg${i}.open`, JSON.stringify(opened.body), JSON.stringify(m.body));
    eq(`msg${i}.ts`, opened.header.clientTsMs, m.client_ts_ms);
    const bad = B.unb64(m.envelope); bad[130] ^= 1;
    let refused = 'accepted'; try { await T.open(bad, {senderSigPub: h(m.sender_sig_public), epochKey: h(m.epoch_key)}); } catch (err) { refused = err.name; }
    eq(`msg${i}.tamper`, refused, 'VerificationError');
  }
  // attachments
  for (const [i, a] of V.attachments.entries()) {
    const enc = await F.encryptBytes(h(a.key), pattern(a.plaintext_size), {log2Chunk: a.log2_chunk, noncePrefix: h(a.nonce_prefix)});
    eq(`taf${i}.encrypt`, B.b64(enc.ciphertext), a.ciphertext); eq(`taf${i}.digest`, B.hex(enc.digest), a.digest);
    const dec = await F.decryptBytes(h(a.key), B.unb64(a.ciphertext));
    eq(`taf${i}.decrypt`, B.hex(dec.plaintext), B.hex(pattern(a.plaintext_size)));
    eq(`taf${i}.size`, F.ciphertextSize(a.plaintext_size, a.log2_chunk), a.ciphertext_size);
  }
  const multi = B.unb64(V.attachments[4].ciphertext), cs = 4096 + 16;
  let trunc = 'accepted'; try { await F.decryptBytes(h(V.attachments[4].key), multi.subarray(0, 16 + 3 * cs)); } catch (err) { trunc = err.name; }
  eq('taf.truncation', trunc, 'VerificationError');
  const swapped = B.concat(multi.subarray(0, 16), multi.subarray(16 + cs, 16 + 2 * cs), multi.subarray(16, 16 + cs), multi.subarray(16 + 2 * cs));
  let reorder = 'accepted'; try { await F.decryptBytes(h(V.attachments[4].key), swapped); } catch (err) { reorder = err.name; }
  eq('taf.reorder', reorder, 'VerificationError');
  // recovery
  const r = V.recovery;
  eq('rk.format', R.formatRecoveryKey(h(r.key)), r.formatted);
  for (const t of r.also_accepted) eq('rk.parse', B.hex(R.parseRecoveryKey(t)), r.key);
  for (const t of r.rejected) { let x = 'accepted'; try { R.parseRecoveryKey(t); } catch (err) { x = err.name; } eq('rk.reject', x, 'ProtocolError'); }
  const td = (x) => new TextDecoder().decode(x), ruid = h(r.user_id);
  // format 2: HPKE to the recovery public key carried in the secrets, bound to the identity key
  const info = await R.recoveryInfo(h(r.key), ruid, h(V.keys.uik.public));
  eq('rk.kem_public', B.hex(info.pub), r.kem_public); eq('rk.binding', B.hex(info.bind), r.binding);
  eq('rk.secrets_bytes', td(R.secretsToBytes(JSON.parse(r.secrets))), r.secrets);
  const rb = await R.sealRecoveryBlob(ruid, B.te.encode(r.secrets), info.pub, {version: r.version, ephemeralSeed: h(r.ephemeral_seed)});
  eq('rk.blob', B.hex(rb), r.blob);
  const o2 = await R.openAccountSecrets(h(r.key), ruid, h(r.blob));
  eq('rk.open', td(o2.bytes), r.secrets); eq('rk.open.format', o2.format, 2);
  eq('rk.open.recovery', B.hex(o2.recovery.pub) + B.hex(o2.recovery.bind), r.kem_public + r.binding);
  const fresh = await R.sealRecoveryBlob(ruid, B.te.encode(r.secrets), info.pub, {version: 7});
  eq('rk.fresh', td((await R.openAccountSecrets(h(r.key), ruid, fresh)).bytes), r.secrets);
  for (const [name, bad] of [['rk.wrong_key', [new Uint8Array(32), ruid, rb]], ['rk.wrong_user', [h(r.key), new Uint8Array(16), rb]],
                             ['rk.wrong_version', [h(r.key), ruid, B.concat(rb.subarray(0, 1), B.u32(4), rb.subarray(5))]]]) {
    let x = 'accepted'; try { await R.openAccountSecrets(...bad); } catch (err) { x = err.name; } eq(name, x, 'VerificationError');
  }
  // a blob sealed to the right public key but not bound by the Recovery Key: refused
  const forged = JSON.parse(r.secrets); forged.recovery.bind = B.b64(new Uint8Array(32));
  let fx = 'accepted';
  try { await R.openAccountSecrets(h(r.key), ruid, await R.sealRecoveryBlob(ruid, R.secretsToBytes(forged), info.pub, {version: 4})); }
  catch (err) { fx = err.name; }
  eq('rk.forged', fx, 'VerificationError');
  // format 1 (enrolments made before format 2) still opens, with the recovery information derived
  const v1 = r.v1;
  eq('rk.v1.blob', B.hex(await R.sealAccountSecrets(h(r.key), ruid, B.te.encode(v1.secrets), {version: v1.version, nonce: h(v1.nonce)})), v1.blob);
  const o1 = await R.openAccountSecrets(h(r.key), ruid, h(v1.blob));
  eq('rk.v1.open', td(o1.bytes), v1.secrets); eq('rk.v1.format', o1.format, 1);
  eq('rk.v1.recovery', B.hex(o1.recovery.pub) + B.hex(o1.recovery.bind), r.kem_public + r.binding);
  // fingerprints
  const f = V.fingerprints;
  eq('fp.state', await FP.stateFingerprint('NLD', h(f.state.public)), f.state.digits);
  const us = f.users.map((u) => [h(u.user_id), h(u.uik_public)]);
  eq('fp.user', await FP.userFingerprint(...us[0]), f.users[0].digits);
  eq('fp.safety', await FP.safetyNumber(us[1], us[0]), f.safety_number);
  eq('fp.thread', await FP.threadSafetyCode(h(f.thread.thread_id), h(f.thread.head_hash), us), f.thread.digits);
  // thread log: signatures and hash chain
  for (const [i, ev] of V.log.events.entries()) {
    const st = K.statementFromJson(ev);
    const body = JSON.parse(new TextDecoder().decode(st.payload));
    const d = V.log.directory.devices.find((x) => x.device === body.device);
    await K.verifyStatement(st, 'event', h(d.sig_public));
    eq(`event${i}.hash`, B.hex(await K.eventHash(st.payload)), V.log.event_hashes[i]);
    if (i > 0) eq(`event${i}.prev`, body.prev, V.log.event_hashes[i - 1]);
  }
  return {fails, checked: checked.length};
}
"""


@pytest.fixture
def e2e_page(page, live_server):
    """A page of the live server's origin (the module's own URL) from which the ES modules load."""
    page.goto(live_server.url + E2E + "tek1.js")
    assert page.evaluate("() => window.isSecureContext && !!crypto.subtle")
    return page


def test_browser_reproduces_every_vector(e2e_page):
    result = e2e_page.evaluate(CHECK_VECTORS, VECTORS)
    assert result["fails"] == []
    assert result["checked"] > 100


JS_OPEN = """
async ([envelope, sigPub, epochKey, tafKey, taf, pukSecret, userId, wrap, threadId]) => {
  const B = await import('/static/js/e2e/bytes.js'), T = await import('/static/js/e2e/tek1.js');
  const F = await import('/static/js/e2e/taf1.js'), K = await import('/static/js/e2e/keys.js'), P = await import('/static/js/e2e/primitives.js');
  const opened = await T.open(B.unb64(envelope), {senderSigPub: B.unb64(sigPub), epochKey: async () => {
    const puk = await K.perUserKey(B.unb64(userId), 1, B.unb64(pukSecret));
    return K.unwrapEpochKey(puk, {threadId: B.unb64(threadId), epoch: 1, blob: B.unb64(wrap)});
  }});
  const parts = [];
  const res = await F.decrypt(B.unb64(tafKey), new Blob([B.unb64(taf)]), {onChunk: (c) => parts.push(c)});
  return {body: opened.body, sha: B.hex(await P.sha256(B.concat(...parts))), chunks: parts.length, digest: B.hex(res.digest)};
}
"""


def test_python_encrypts_browser_decrypts(e2e_page):
    device, thread, user = keys.DeviceKeys.generate(), os.urandom(16), os.urandom(16)
    puk, epoch_key = keys.PerUserKey.generate(user, 1), epochs.new_epoch_key()
    wrap = epochs.wrap_epoch_key(epoch_key, thread_id=thread, epoch=1, user_id=user, puk_gen=1, puk_dh_pub=puk.dh_pub)
    body = {"v": 1, "text": "Compte gelé – 1 200 000 € (Dakar)", "attachments": []}
    envelope = messages.seal(body, epoch_key=epoch_key, device=device, thread_id=thread, epoch=1, head_hash=os.urandom(32),
                             msg_id=os.urandom(16), sender_user=user, client_ts_ms=1767225600000)
    file_key, data = os.urandom(32), os.urandom(3 * 1024 * 1024 + 7)
    taf = attachments.encrypt_bytes(file_key, data)
    b = lambda x: base64.b64encode(x).decode()  # noqa: E731
    got = e2e_page.evaluate(JS_OPEN, [b(envelope), b(device.public().sig_pub), "", b(file_key), b(taf), b(puk.secret),
                                      b(user), b(wrap), b(thread)])
    assert got["body"] == body
    assert got["sha"] == hashlib.sha256(data).hexdigest() and got["chunks"] == 4
    assert bytes.fromhex(got["digest"]) == attachments.digest_stream(__import__("io").BytesIO(taf)).digest


JS_SEAL = """
async ([pukDhPub, userId, threadId, size]) => {
  const B = await import('/static/js/e2e/bytes.js'), T = await import('/static/js/e2e/tek1.js');
  const F = await import('/static/js/e2e/taf1.js'), K = await import('/static/js/e2e/keys.js'), P = await import('/static/js/e2e/primitives.js');
  const device = await K.generateDevice();  // non-extractable, as a real browser device
  const epochKey = K.newEpochKey(), tid = B.unb64(threadId), user = B.unb64(userId);
  const wrap = await K.wrapEpochKey(epochKey, {threadId: tid, epoch: 1, userId: user, pukGen: 1, pukDhPub: B.unb64(pukDhPub)});
  const fileKey = B.randomBytes(32), data = B.randomBytes(size), parts = [];
  const res = await F.encrypt(fileKey, new Blob([data]), {onChunk: (c) => parts.push(c)});
  const body = {v: 1, text: 'Bevriezing bevestigd – zie bijlage', attachments: [{file_id: B.hex(B.randomBytes(16)),
    name: 'rekeningen.xlsx', size, digest: B.hex(res.digest), key: B.b64(fileKey), chunk_log2: 20}]};
  const envelope = await T.seal(body, {epochKey, device, threadId: tid, epoch: 1, headHash: B.randomBytes(32),
    msgId: B.randomBytes(16), senderUser: user, clientTsMs: Date.now()});
  return {envelope: B.b64(envelope), sigPub: B.b64(device.sigPub), wrap: B.b64(wrap), taf: B.b64(B.concat(...parts)),
    sha: B.hex(await P.sha256(data)), chunks: parts.length - 1};
}
"""


def test_browser_encrypts_python_decrypts(e2e_page):
    thread, user = os.urandom(16), os.urandom(16)
    puk = keys.PerUserKey.generate(user, 1)
    b = lambda x: base64.b64encode(x).decode()  # noqa: E731
    size = 2 * 1024 * 1024 + 12345
    got = e2e_page.evaluate(JS_SEAL, [b(puk.dh_pub), b(user), b(thread), size])
    epoch_key = epochs.unwrap_epoch_key(puk, thread_id=thread, epoch=1, blob=base64.b64decode(got["wrap"]))
    header, body = messages.open_(base64.b64decode(got["envelope"]), sender_sig_pub=base64.b64decode(got["sigPub"]),
                                  epoch_key=epoch_key)
    assert header.thread_id == thread and header.sender_user == user
    assert body["text"] == "Bevriezing bevestigd – zie bijlage"
    file = body["attachments"][0]
    taf = base64.b64decode(got["taf"])
    plaintext = attachments.decrypt_bytes(base64.b64decode(file["key"]), taf)
    assert got["chunks"] == 3 and len(plaintext) == size == file["size"]
    assert hashlib.sha256(plaintext).hexdigest() == got["sha"]
    assert attachments.digest_stream(__import__("io").BytesIO(taf)).digest.hex() == file["digest"]
    tampered = bytearray(base64.b64decode(got["envelope"]))
    tampered[200] ^= 1
    with pytest.raises(Exception, match="signature"):
        messages.open_(bytes(tampered), sender_sig_pub=base64.b64decode(got["sigPub"]), epoch_key=epoch_key)


JS_RECOVERY = """
async ([rk, userId, uikSeed, pukSecret, pythonBlob]) => {
  const B = await import('/static/js/e2e/bytes.js'), R = await import('/static/js/e2e/recovery.js');
  const P = await import('/static/js/e2e/primitives.js');
  const user = B.unb64(userId), key = B.unb64(rk);
  const info = await R.recoveryInfo(key, user, await P.publicFromSeed('Ed25519', B.unb64(uikSeed)));
  const secrets = R.secretsToBytes({v: 1, uik_seed: uikSeed, puks: [{gen: 1, secret: pukSecret}], recovery: R.recoveryInfoToJson(info)});
  // A device re-seals without the Recovery Key: only the public key from the account secrets.
  const blob = await R.sealRecoveryBlob(user, secrets, info.pub, {version: 5});
  const opened = await R.openAccountSecrets(key, user, B.unb64(pythonBlob));
  return {blob: B.b64(blob), opened: new TextDecoder().decode(opened.bytes)};
}
"""


def test_recovery_blobs_interoperate(e2e_page):
    """A format 2 blob sealed by either twin (fresh ephemeral keys) opens in the other."""
    from cooperation_client.protocol import recovery

    rk, user = recovery.new_recovery_key(), os.urandom(16)
    uik = keys.UserIdentity.generate(user)
    secrets = recovery.AccountSecrets(user, uik.seed, (keys.PerUserKey.generate(user, 1),),
                                      recovery.recovery_info(rk, user, uik.public))
    b = lambda x: base64.b64encode(x).decode()  # noqa: E731
    got = e2e_page.evaluate(JS_RECOVERY, [b(rk), b(user), b(uik.seed), b(secrets.puks[0].secret),
                                          b(recovery.seal_recovery_blob(secrets, version=4))])
    assert got["opened"] == secrets.to_bytes().decode()
    blob = base64.b64decode(got["blob"])
    assert blob[0] == recovery.FORMAT_V2 and recovery.open_account_secrets(rk, user, blob) == secrets
