// The platform's /api/v1 from the browser: JSON with the session cookie and the CSRF token (from
// <meta name="csrf-token">) in X-CSRFToken; binary values as base64url. A refused call throws an
// ApiError whose userMessage is the server's (translated) explanation, shown in the alert region.
import { t, UserError } from "./dom.js";

const BASE = "/api/v1";

export class ApiError extends UserError {
  constructor(status, message, data = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.data = data;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function call(method, path, { json, raw, accept = "application/json" } = {}) {
  const headers = { Accept: accept, "X-CSRFToken": csrfToken() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (raw !== undefined) {
    headers["Content-Type"] = "application/octet-stream";
    body = raw;
  }
  let response;
  try {
    response = await fetch(BASE + path, { method, headers, body, credentials: "same-origin", redirect: "error" });
  } catch {
    throw new ApiError(0, t("network"));
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) throw new ApiError(401, t("session-ended"), data);
    throw new ApiError(response.status, data.error || t("failed"), data);
  }
  return response;
}

export const get = async (path) => (await call("GET", path)).json();
export const post = async (path, json = {}) => (await call("POST", path, { json })).json();
export const put = async (path, json) => (await call("PUT", path, { json })).json();
export const putRaw = async (path, bytes) => (await call("PUT", path, { raw: bytes })).json();
// The raw response, for streaming a download.
export const stream = (path) => call("GET", path, { accept: "application/octet-stream" });

// -- base64url (the API's binary encoding; it also accepts standard base64) --------------------
export function b64u(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
export function unb64u(text) {
  if (typeof text !== "string") throw new ApiError(0, t("bad-answer"));
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const out = new Uint8Array(binary.length);  // a plain loop: Uint8Array.from(string, fn) is several times slower
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
