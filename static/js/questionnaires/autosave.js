// Autosave of a State's response: each changed answer is posted as JSON (debounced) with the
// version it started from; the status is announced in a live region. Unsaved answers are kept
// in sessionStorage and sent again after a network error, or after signing in again when the
// session ended, so nothing typed is lost. A 409 means a colleague saved the same answer first:
// both values are shown and the user chooses. All text comes from data-msg-* attributes.

const DEBOUNCE_MS = 800;
const MAX_RETRY_MS = 30000;

const form = document.getElementById("response-form");
if (form) start(form);

function start(form) {
  const csrf = form.querySelector('input[name="csrf_token"]').value;
  const status = document.getElementById("autosave-status");
  const key = form.dataset.storageKey;
  const saveUrl = (id) => form.dataset.autosaveUrl.replace(/\/0$/, `/${id}`);
  const uploadUrl = (id) => form.dataset.uploadUrl.replace(/\/0\/file$/, `/${id}/file`);
  const msg = (name) => form.dataset[`msg${name}`] || "";
  const timers = new Map();
  const sending = new Set();
  const again = new Set();
  let retryDelay = 2000;
  let retryTimer = null;
  let pending = load();

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(key) || "{}") || {};
    } catch {
      return {};
    }
  }
  function persist() {
    try {
      if (Object.keys(pending).length) sessionStorage.setItem(key, JSON.stringify(pending));
      else sessionStorage.removeItem(key);
    } catch {
      /* storage full or disabled: autosave still works while online */
    }
  }
  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("is-error", isError);
  }

  const blockOf = (id) => document.getElementById(`q-${id}`);
  const idOf = (block) => block.dataset.questionId;

  function readValue(block) {
    const id = idOf(block);
    switch (block.dataset.type) {
      case "yes_no":
      case "single_choice": {
        const checked = block.querySelector(`input[name="q${id}"]:checked`);
        return checked ? checked.value : null;
      }
      case "multiple_choice":
        return [...block.querySelectorAll(`input[name="q${id}"]:checked`)].map((i) => i.value);
      case "legal_reference": {
        const value = {};
        for (const part of block.querySelectorAll("[data-part]")) value[part.dataset.part] = part.value;
        return value;
      }
      case "file":
        return null; // only "remove the document" is sent as a value; uploads go separately
      default:
        return block.querySelector(`#q${id}`).value;
    }
  }

  function writeValue(block, value) {
    const id = idOf(block);
    switch (block.dataset.type) {
      case "yes_no":
      case "single_choice":
        for (const input of block.querySelectorAll(`input[name="q${id}"]`)) input.checked = input.value === value;
        break;
      case "multiple_choice":
        for (const input of block.querySelectorAll(`input[name="q${id}"]`)) {
          input.checked = Array.isArray(value) && value.includes(input.value);
        }
        break;
      case "legal_reference":
        for (const part of block.querySelectorAll("[data-part]")) part.value = (value && value[part.dataset.part]) || "";
        break;
      case "file":
        break;
      default:
        block.querySelector(`#q${id}`).value = value ?? "";
    }
  }

  function setVersion(block, version) {
    block.dataset.version = String(version);
    const input = block.querySelector("[data-version-input]");
    if (input) input.value = String(version);
  }

  function showError(block, text) {
    const error = block.querySelector("[data-error]");
    error.textContent = text || "";
    block.classList.toggle("has-error", Boolean(text));
  }

  function clearConflict(block) {
    const panel = block.querySelector("[data-conflict]");
    panel.hidden = true;
    panel.replaceChildren();
  }

  function showConflict(block, data) {
    const id = idOf(block);
    const panel = block.querySelector("[data-conflict]");
    const intro = document.createElement("p");
    intro.textContent = data.error;
    const label = document.createElement("p");
    label.textContent = msg("Theirs");
    const theirs = document.createElement("blockquote");
    theirs.textContent = data.display || msg("None");
    const keep = document.createElement("button");
    keep.type = "button";
    keep.textContent = msg("Keep");
    const use = document.createElement("button");
    use.type = "button";
    use.className = "secondary";
    use.textContent = msg("Use");
    keep.addEventListener("click", () => {
      const entry = pending[id] || { value: readValue(block) };
      pending[id] = { value: entry.value, version: data.version };
      setVersion(block, data.version);
      persist();
      clearConflict(block);
      send(id);
    });
    use.addEventListener("click", () => {
      writeValue(block, data.value);
      setVersion(block, data.version);
      delete pending[id];
      persist();
      clearConflict(block);
      applyConditions();
      say(msg("Saved"));
    });
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(keep, use);
    panel.replaceChildren(intro, label, theirs, actions);
    panel.hidden = false;
  }

  function markSaved(block) {
    const note = block.querySelector("[data-last-saved]");
    if (note) note.textContent = msg("By");
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      flush();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY_MS);
  }

  async function post(url, options) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", "X-CSRFToken": csrf, ...(options.headers || {}) },
    });
  }

  // The reply of the server, or a reason: "network" (retry) or "signin" (session ended).
  async function reply(response) {
    const type = response.headers.get("content-type") || "";
    if (response.redirected || !type.includes("application/json")) return { reason: "signin" };
    return { status: response.status, data: await response.json() };
  }

  async function send(id) {
    if (sending.has(id)) {
      again.add(id);
      return;
    }
    const entry = pending[id];
    const block = blockOf(id);
    if (!entry || !block || entry.conflict) return;
    sending.add(id);
    say(msg("Saving"));
    let result;
    try {
      const response = await post(saveUrl(id), {
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ value: entry.value, version: entry.version }),
      });
      result = await reply(response);
    } catch {
      result = { reason: "network" };
    } finally {
      sending.delete(id);
    }
    handle(id, block, entry, result);
    if (again.delete(id)) send(id);
  }

  function handle(id, block, entry, result) {
    if (result.reason === "network" || (result.status && result.status >= 500)) {
      say(msg("Retrying"), true);
      scheduleRetry();
      return;
    }
    if (result.reason === "signin" || result.status === 400 || result.status === 401 || result.status === 403) {
      // Session ended (or the page's CSRF token with it): keep everything for after sign-in.
      say(msg("Signin"), true);
      return;
    }
    const data = result.data;
    if (result.status === 200) {
      setVersion(block, data.version);
      if (pending[id] === entry) delete pending[id];
      else if (pending[id]) pending[id].version = data.version; // typed more meanwhile
      persist();
      showError(block, "");
      clearConflict(block);
      markSaved(block);
      retryDelay = 2000;
      if (!Object.keys(pending).length) say(msg("Saved"));
      return;
    }
    if (result.status === 409) {
      if (pending[id]) pending[id].conflict = true;
      persist();
      showConflict(block, data);
      say(msg("Conflict"), true);
      return;
    }
    if (result.status === 422) {
      if (pending[id] === entry) delete pending[id];
      persist();
      showError(block, data.error);
      say(msg("Invalid"), true);
      return;
    }
    // 404 or 423: this answer cannot be saved any more.
    delete pending[id];
    persist();
    showError(block, data.error);
    say(msg("Locked"), true);
  }

  function flush() {
    for (const id of Object.keys(pending)) send(id);
  }

  function queue(block) {
    const id = idOf(block);
    pending[id] = { value: readValue(block), version: Number(block.dataset.version || 0) };
    persist();
    clearTimeout(timers.get(id));
    timers.set(id, setTimeout(() => send(id), DEBOUNCE_MS));
  }

  async function upload(block, input) {
    const id = idOf(block);
    const file = input.files && input.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    body.append("version", block.dataset.version || "0");
    say(msg("Saving"));
    let result;
    try {
      result = await reply(await post(uploadUrl(id), { body }));
    } catch {
      result = { reason: "network" };
    }
    if (result.reason === "network" || result.status >= 500) {
      say(msg("Retrying"), true); // a file cannot be kept in sessionStorage: the user retries
      return;
    }
    if (result.status === 200) {
      setVersion(block, result.data.version);
      const current = block.querySelector("[data-current-file]");
      const link = document.createElement("a");
      link.href = result.data.file.url;
      link.textContent = result.data.file.name;
      current.replaceChildren(document.createTextNode(`${msg("Current")} `), link);
      input.value = "";
      showError(block, "");
      markSaved(block);
      say(msg("Saved"));
      return;
    }
    if (result.status === 413 || result.status === 422) {
      input.value = "";
      showError(block, result.data.error);
      say(msg("Invalid"), true);
      return;
    }
    handle(id, block, {}, result);
  }

  // Conditional questions: shown when the deciding (visible) question has the value.
  function applyConditions() {
    for (const block of form.querySelectorAll(".question[data-condition-question]")) {
      const source = blockOf(block.dataset.conditionQuestion);
      let shown = false;
      if (source && !source.hidden) {
        const value = readValue(source);
        const wanted = block.dataset.conditionValue;
        shown = Array.isArray(value) ? value.includes(wanted) : value === wanted;
      }
      block.hidden = !shown;
    }
  }

  form.addEventListener("input", (event) => {
    const block = event.target.closest(".question");
    if (!block || event.target.type === "file" || event.target.type === "checkbox" && block.dataset.type === "file") return;
    if (event.target.type === "radio" || event.target.type === "checkbox" || event.target.tagName === "SELECT") return;
    queue(block);
  });
  form.addEventListener("change", (event) => {
    const block = event.target.closest(".question");
    if (!block) return;
    if (event.target.type === "file") {
      upload(block, event.target);
      return;
    }
    if (block.dataset.type === "file") {
      if (event.target.checked) {
        pending[idOf(block)] = { value: null, version: Number(block.dataset.version || 0) };
        persist();
        send(idOf(block));
      }
      return;
    }
    if (event.target.type === "radio" || event.target.type === "checkbox" || event.target.tagName === "SELECT") {
      queue(block);
      applyConditions();
    }
  });
  // The plain "Save answers" button posts everything: what is pending goes with it.
  form.addEventListener("submit", () => {
    pending = {};
    persist();
  });
  // Submitting: send what is still pending first.
  const submitForm = document.querySelector(".submit-form");
  if (submitForm) {
    submitForm.addEventListener("submit", async (event) => {
      if (!Object.keys(pending).length) return;
      event.preventDefault();
      flush();
      const deadline = Date.now() + 10000;
      while (Object.keys(pending).some((id) => !pending[id].conflict) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      submitForm.submit();
    });
  }
  window.addEventListener("online", flush);

  // Answers typed before a network error or the end of the session: put back, send again.
  const restored = Object.keys(pending).filter((id) => blockOf(id));
  for (const id of Object.keys(pending)) {
    const block = blockOf(id);
    if (!block) {
      delete pending[id];
      continue;
    }
    delete pending[id].conflict;
    writeValue(block, pending[id].value);
  }
  persist();
  applyConditions();
  if (restored.length) {
    say(msg("Restored"));
    flush();
  }
}
