// Report travel: the report is encrypted here into an end-to-end encrypted thread (the engine of
// static/js/threads/, PROTOCOL.md) with the Court, the Bureau focal points (only them, not their
// States' other users) and the reporter's own State; the platform then learns the thread's id
// and alerts the recipients. Nothing typed on this page reaches the server in the clear.
import { context, openSession } from "/static/js/threads/common.js";
import { announce, describe, el, guarded, showError, UserError } from "/static/js/threads/dom.js";
import { postJson, tt } from "./common.js";

const session = await openSession();
const form = document.getElementById("travel-report");
const button = form.querySelector("button[type=submit]");
const words = (text) => (text || "").split(" ").filter(Boolean);
const courtParties = new Set(words(context.courtParties));
const parties = [...new Set([...courtParties, ...words(context.focalParties)])];
const focalUsers = new Set(words(context.focalUsers).map(Number));
const REQUIRED = ["kind", "persons", "itinerary", "dates"];
const LINES = ["persons", "court_ref", "itinerary", "dates", "transport", "source", "details"];

const value = (name) => form.elements[name].value.trim();
const labelOf = (name) => document.querySelector(`label[for="${form.elements[name].id}"]`).textContent.trim();

// Members: the reporter's own State, the Court's users, and of any other State its designated
// focal points only.
const include = (person) => person.party === context.party || courtParties.has(person.party) || focalUsers.has(person.userId);

// The report as labelled lines: the thread page and the Python client show it as it is.
function reportText() {
  const lines = [tt("heading"), "", `${tt("line-kind")}: ${tt(`kind-${value("kind")}`)}`];
  for (const name of LINES) if (value(name)) lines.push(`${tt(`line-${name}`)}: ${value(name)}`);
  return lines.join("\n");
}

// Once the thread exists, a retry never encrypts the report into a second one.
let pending = null;  // {threadId, skipped, posted}

async function submit() {
  if (!pending) {
    announce(tt("encrypting"));
    const title = tt("title", { kind: tt(`kind-${value("kind")}`), persons: value("persons").slice(0, 150) });
    const created = await session.createThread({ title, topic: "other", courtRef: value("court_ref"), parties,
      shareHistory: true, include }, announce);
    pending = { threadId: created.threadId, skipped: created.skipped, posted: false };
  }
  if (!pending.posted) {
    const view = session.thread(pending.threadId);
    await view.load();
    await view.send({ text: reportText(), handling: form.elements.handling.value, files: [] });
    pending.posted = true;
  }
  announce(tt("sending"));
  let sent;
  try {
    sent = await postJson(context.sendUrl, { thread_id: pending.threadId });
  } catch (error) {
    throw new UserError(tt("send-failed", { reason: describe(error) }));
  }
  if (pending.skipped.length) {
    // Say who could not receive it before leaving the page: the reporter may want to call them.
    showError(tt("skipped", { names: pending.skipped.join(", ") }));
    form.after(el("p", {}, el("a", { href: sent.url, text: tt("open-report") })));
    button.hidden = true;
    return;
  }
  announce(tt("sent"));
  window.location.assign(sent.url);
}

if (session && session.status === "ready" && context.ready === "1") {
  button.disabled = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const missing = REQUIRED.find((name) => !value(name));
    if (missing) {
      showError(tt("required", { field: labelOf(missing) }));
      form.elements[missing].focus();
      return;
    }
    guarded(button, submit);
  });
}
