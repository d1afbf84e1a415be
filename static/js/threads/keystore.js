// This browser's key store (IndexedDB), one set of records per platform user:
//  * device:<uid>   the device's X25519 and Ed25519 private keys as NON-EXTRACTABLE CryptoKeys
//                   (structured clone keeps them non-extractable), with the public halves and id;
//  * vault:<uid>    a non-extractable AES-256-GCM CryptoKey generated in this browser;
//  * secrets:<uid>  the account secrets (UIK seed, PUK secrets, and the recovery public key with
//                   its binding, which re-seal the recovery blob without the Recovery Key)
//                   encrypted under the vault key, never stored in the clear;
//  * reseal:<uid>   only in browsers enrolled before the recovery blob's format 2: the format 1
//                   blob key HKDF(RK, "TEK1/recovery") as a non-extractable AES-GCM CryptoKey,
//                   used until the Recovery Key is entered once (nothing writes it any more);
//  * pins:<uid>     identity keys of other users seen on first use (TOFU), with the device keys
//                   verified under them, and whether the person compared safety numbers;
//  * pending:<uid>  a browser waiting for approval by another of the user's devices: the device
//                   keys it asked with (NON-EXTRACTABLE, as device:<uid>) and the identity key
//                   bound into its verification code, until approved, refused or expired.
// Script running on this origin can use the keys but never read the private key material out.
import { b64, concat, jsonBytes, label, parseJson, randomBytes, unb64 } from "../e2e/bytes.js";
import { aesGcmDecrypt, aesGcmEncrypt } from "../e2e/primitives.js";

const DB_NAME = "cooperation-threads";
const STORE = "records";
let dbPromise = null;

function openDb() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

async function run(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}
const read = (key) => run("readonly", (store) => store.get(key));
const write = (key, value) => run("readwrite", (store) => store.put(value, key));
const remove = (key) => run("readwrite", (store) => store.delete(key));

// -- the device ------------------------------------------------------------------------------
export const loadDevice = (uid) => read(`device:${uid}`);
export const saveDevice = (uid, device) => write(`device:${uid}`, {
  deviceId: device.deviceId, dh: device.dh, sig: device.sig, dhPub: device.dhPub, sigPub: device.sigPub, label: device.label,
});

// -- account secrets, encrypted under the vault key --------------------------------------------
async function vault(uid) {
  let key = await read(`vault:${uid}`);
  if (!key) {
    key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await write(`vault:${uid}`, key);
  }
  return key;
}
const secretsAad = (uid) => concat(label("cooperation/threads/secrets"), label(String(uid)));

// secrets: {uikSeed: Uint8Array(32), puks: [{gen, secret: Uint8Array(32)}], recovery: {pub, bind} | undefined}
export async function saveSecrets(uid, secrets) {
  const obj = { uik_seed: b64(secrets.uikSeed), puks: secrets.puks.map((p) => ({ gen: p.gen, secret: b64(p.secret) })) };
  if (secrets.recovery) obj.recovery = { pub: b64(secrets.recovery.pub), bind: b64(secrets.recovery.bind) };
  const plain = jsonBytes(obj);
  const nonce = randomBytes(12);
  const ciphertext = await aesGcmEncrypt(await vault(uid), nonce, plain, secretsAad(uid));
  plain.fill(0);
  await write(`secrets:${uid}`, { nonce, ciphertext });
}

export async function loadSecrets(uid) {
  const stored = await read(`secrets:${uid}`);
  if (!stored) return null;
  const plain = await aesGcmDecrypt(await vault(uid), stored.nonce, stored.ciphertext, secretsAad(uid));
  const obj = parseJson(plain);
  plain.fill(0);
  const secrets = { uikSeed: unb64(obj.uik_seed, 32), puks: obj.puks.map((p) => ({ gen: p.gen, secret: unb64(p.secret, 32) })) };
  if (obj.recovery) secrets.recovery = { pub: unb64(obj.recovery.pub, 32), bind: unb64(obj.recovery.bind, 32) };
  return secrets;
}

// -- the format 1 recovery blob key of browsers enrolled before format 2 (read, then forgotten) --
export const loadResealKey = (uid) => read(`reseal:${uid}`);
export const forgetResealKey = (uid) => remove(`reseal:${uid}`);

// -- a request for approval by another device (PROTOCOL.md §8a) ---------------------------------
export const loadPending = (uid) => read(`pending:${uid}`);
export const savePending = (uid, pending) => write(`pending:${uid}`, {
  deviceId: pending.deviceId, dh: pending.dh, sig: pending.sig, dhPub: pending.dhPub, sigPub: pending.sigPub,
  label: pending.label, uikPub: pending.uikPub, expiresAt: pending.expiresAt,
});
export const clearPending = (uid) => remove(`pending:${uid}`);

// -- pins of other users' identity keys (TOFU) --------------------------------------------------
// pins: {[userId]: {uik: base64, verified: bool, firstSeenMs, name, party, admin, devices: {hex: base64}}}
export async function loadPins(uid) {
  return (await read(`pins:${uid}`)) || {};
}
export const savePins = (uid, pins) => write(`pins:${uid}`, pins);

// This user's keys in this browser (a revoked device); the pins stay unless asked, so a key
// change is still noticed after the browser is recovered.
export async function forget(uid, { keepPins = false } = {}) {
  for (const kind of ["device", "vault", "secrets", "reseal"]) await remove(`${kind}:${uid}`);
  if (!keepPins) await remove(`pins:${uid}`);
}
