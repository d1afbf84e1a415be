// Security keys and passkeys: registration on the security page (#webauthn-register) and the
// second factor at sign-in (#webauthn-login). The server sends py_webauthn's JSON options; the
// binary fields are base64url there and ArrayBuffers for the browser API. User-facing text
// comes from the server or from data-msg-* attributes rendered (and translated) by the template.

const b64urlToBytes = (value) => {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
};

const bytesToB64url = (buffer) => {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const descriptors = (list) =>
  (list || []).map((d) => ({ ...d, id: b64urlToBytes(d.id) }));

const creationOptions = (o) => ({
  ...o,
  challenge: b64urlToBytes(o.challenge),
  user: { ...o.user, id: b64urlToBytes(o.user.id) },
  excludeCredentials: descriptors(o.excludeCredentials),
});

const requestOptions = (o) => ({
  ...o,
  challenge: b64urlToBytes(o.challenge),
  allowCredentials: descriptors(o.allowCredentials),
});

const registrationJSON = (cred) => ({
  id: cred.id,
  rawId: bytesToB64url(cred.rawId),
  type: cred.type,
  authenticatorAttachment: cred.authenticatorAttachment || undefined,
  response: {
    clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
    attestationObject: bytesToB64url(cred.response.attestationObject),
    transports: typeof cred.response.getTransports === "function" ? cred.response.getTransports() : [],
  },
});

const assertionJSON = (cred) => ({
  id: cred.id,
  rawId: bytesToB64url(cred.rawId),
  type: cred.type,
  authenticatorAttachment: cred.authenticatorAttachment || undefined,
  response: {
    clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
    authenticatorData: bytesToB64url(cred.response.authenticatorData),
    signature: bytesToB64url(cred.response.signature),
    userHandle: cred.response.userHandle ? bytesToB64url(cred.response.userHandle) : undefined,
  },
});

// A failure the user can read: the server's message, or one of the template's.
class Shown extends Error {}

async function postJSON(url, csrf, body, fallback) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
  } catch {
    throw new Shown(fallback);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (data.redirect) window.location.assign(data.redirect);
    throw new Shown(data.error || fallback);
  }
  return data;
}

// Runs one ceremony: options -> browser -> verify; reports progress in the live region.
// `optionsBody` is what the options request carries (the password, for a registration).
async function ceremony(host, control, status, browserStep, extra, optionsBody = {}) {
  const msg = host.dataset;
  const show = (text, state) => {
    status.textContent = text;
    status.dataset.state = state;
  };
  control.disabled = true;
  control.setAttribute("aria-busy", "true");
  show(msg.msgWorking, "working");
  try {
    const options = await postJSON(msg.optionsUrl, msg.csrf, optionsBody, msg.msgFailed);
    let credential;
    try {
      credential = await browserStep(options);
    } catch (error) {
      const exists = error && error.name === "InvalidStateError" && msg.msgExists;
      throw new Shown(exists ? msg.msgExists : msg.msgCancelled);
    }
    if (!credential) throw new Shown(msg.msgCancelled);
    const result = await postJSON(msg.verifyUrl, msg.csrf, extra(credential), msg.msgFailed);
    show(result.message || msg.msgDone, "done");
    if (result.redirect) window.location.assign(result.redirect);
    else window.location.reload();
  } catch (error) {
    show(error instanceof Shown ? error.message : msg.msgFailed, "error");
    control.disabled = false;
    control.removeAttribute("aria-busy");
  }
}

const supported = () =>
  typeof window.PublicKeyCredential === "function" && navigator.credentials && navigator.credentials.create;

function setUp() {
  const status = document.getElementById("webauthn-status");
  const register = document.getElementById("webauthn-register");
  const login = document.getElementById("webauthn-login");
  if (!status || (!register && !login)) return;
  const host = register || login;
  const control = register ? register.querySelector("button[type=submit]") : login;
  if (!supported()) {
    status.textContent = host.dataset.msgUnsupported;
    status.dataset.state = "error";
    control.disabled = true;
    return;
  }
  if (register) {
    const name = document.getElementById("key-name");
    const password = document.getElementById("key-current");
    register.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!register.reportValidity() || control.disabled) return;
      // The password goes with the options request: the server re-authenticates before it
      // issues a challenge, so no key is touched after a wrong password.
      ceremony(register, control, status,
        (o) => navigator.credentials.create({ publicKey: creationOptions(o) }),
        (cred) => ({ name: name.value.trim(), credential: registrationJSON(cred) }),
        { current: password.value });
    });
  } else {
    login.addEventListener("click", () => {
      if (login.disabled) return;
      ceremony(login, login, status,
        (o) => navigator.credentials.get({ publicKey: requestOptions(o) }),
        (cred) => ({ credential: assertionJSON(cred) }));
    });
  }
}

setUp();
