// Shared by the travel pages: their translated texts (rendered by the server into
// #travel-strings, since JS has no translation layer) and a JSON POST to the plugin's own routes
// with the session's CSRF token (the threads layout's <meta name="csrf-token">).
import { t, UserError } from "/static/js/threads/dom.js";

let strings = null;

// tt("key", {name: "x"}): the template's text for data-k="key", with {name} filled in.
export function tt(key, params = {}) {
  if (strings === null) {
    strings = new Map();
    for (const node of document.querySelectorAll("#travel-strings [data-k]")) strings.set(node.dataset.k, node.textContent);
  }
  const text = strings.has(key) ? strings.get(key) : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

export async function postJson(url, json) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  let response;
  try {
    response = await fetch(url, {
      method: "POST", credentials: "same-origin", redirect: "error",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": meta ? meta.content : "" },
      body: JSON.stringify(json),
    });
  } catch {
    throw new UserError(t("network"));
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new UserError(response.status === 401 ? t("session-ended") : (data.error || t("failed")));
  return data;
}
