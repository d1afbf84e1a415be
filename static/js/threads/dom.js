// Small DOM helpers shared by the threads pages: translated strings (rendered by the server into
// #threads-strings, since there is no translation layer in JS), the live regions, element
// building without innerHTML (decrypted text is only ever set as textContent), progress bars.

let strings = null;

// t("key", {name: "x"}): the template's text for data-k="key", with {name} filled in.
export function t(key, params = {}) {
  if (strings === null) {
    strings = new Map();
    for (const node of document.querySelectorAll("#threads-strings [data-k]")) strings.set(node.dataset.k, node.textContent);
  }
  const text = strings.has(key) ? strings.get(key) : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The polite status region (progress milestones, "sent") and the assertive error region.
export function announce(message) {
  const region = document.getElementById("threads-status");
  if (region) region.textContent = message;
}

export function showError(message) {
  const region = document.getElementById("threads-error");
  if (!region) return;
  region.replaceChildren(el("p", { text: message }));
  region.hidden = false;
}

export function clearError() {
  const region = document.getElementById("threads-error");
  if (region) { region.replaceChildren(); region.hidden = true; }
}

// A labelled <progress> inside `container`; returns {update(done, total), done(), remove()}.
// Screen readers hear the start and the end through the status region, not every tick.
let progressCount = 0;
export function progress(container, label) {
  const id = `progress-${++progressCount}`;
  const bar = el("progress", { id, max: 1, value: 0 });
  const text = el("label", { for: id, text: label });
  const wrap = el("div", { class: "progress" }, text, " ", bar);
  container.append(wrap);
  announce(label);
  return {
    update(doneBytes, totalBytes) {
      bar.max = Math.max(1, totalBytes);
      bar.value = Math.min(doneBytes, bar.max);
    },
    finish(message) {
      bar.value = bar.max;
      if (message) announce(message);
    },
    remove() { wrap.remove(); },
  };
}

export function formatSize(bytes) {
  if (bytes < 1024) return t("size-bytes", { n: bytes });
  if (bytes < 1024 * 1024) return t("size-kib", { n: (bytes / 1024).toFixed(1) });
  if (bytes < 1024 ** 3) return t("size-mib", { n: (bytes / 1024 ** 2).toFixed(1) });
  return t("size-gib", { n: (bytes / 1024 ** 3).toFixed(2) });
}

// One formatter per locale: building an Intl.DateTimeFormat costs about as much as decrypting a
// message, and a page of messages formats one timestamp per message.
const timeFormats = new Map();
export function formatTime(ms) {
  const locale = document.documentElement.lang || "en";
  if (!timeFormats.has(locale)) timeFormats.set(locale, new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }));
  return timeFormats.get(locale).format(new Date(ms));
}

// An error as the person should read it: our own translated message, else a generic one that
// names the technical cause (never a secret: protocol errors carry no key material).
export class UserError extends Error {
  constructor(message) { super(message); this.userMessage = message; }
}
export function describe(error) {
  if (error?.userMessage) return error.userMessage;
  return t("failed-detail", { detail: error?.message || String(error) });
}

// Run an async action from a button or form: errors go to the alert region, the control is
// disabled meanwhile.
export async function guarded(control, action) {
  clearError();
  if (control) control.disabled = true;
  try {
    return await action();
  } catch (error) {
    showError(describe(error));
    return undefined;
  } finally {
    if (control) control.disabled = false;
  }
}
