// One thread: the verified log, decrypted messages (oldest first) with their handling codes and
// attachments, replies (linked to and quoting their verified original), the composer, the
// participants with safety numbers, and the blocking warning when a participant's identity key
// changed. Decrypted text is only ever set as textContent.
import { context, names, openSession } from "./common.js";
import { announce, describe, el, formatSize, formatTime, guarded, progress, showError, t } from "./dom.js";

const $ = (id) => document.getElementById(id);
const parties = names("#party-names");
const topics = names("#topic-names");
const handlingLabels = new Map([...$("handling").options].filter((o) => o.value).map((o) => [o.value, o.textContent]));
const partyName = (code) => parties.get(code) || code;
const list = $("messages"), composer = $("composer"), sendButton = composer.querySelector("button[type=submit]");
const stateOptions = [...$("add-state").options];
const siteTitle = document.title;
let session = null, view = null, nextBefore = null;
let replyingTo = null;     // the verified message the composer answers, or null
let unresolved = [];       // [{item, node}]: replies whose original is not shown (yet)
const anchors = new Set(); // element ids given to the messages shown

// -- messages ---------------------------------------------------------------------------------

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function attachmentItem(att) {
  const button = el("button", { type: "button", class: "secondary download",
    text: t("download", { name: att.name, size: formatSize(att.size) }) });
  button.addEventListener("click", () => guarded(button, async () => {
    const area = $("download-progress");
    area.replaceChildren();
    const { blob, name } = await view.download(att, { progress: (label) => progress(area, label) });
    saveBlob(blob, name);
  }));
  return el("li", {}, button);
}

// -- replies -----------------------------------------------------------------------------------

const EXCERPT = 120;
const anchorId = (item) => `msg-${item.msgId}`;
const senderName = (item) => (item.sender.userId === session.userId ? `${item.sender.name} (${t("you")})` : item.sender.name);

// A short one-line excerpt of a verified message: its text, else its file names.
function excerpt(item) {
  const text = item.text.replace(/\s+/g, " ").trim() || item.attachments.map((a) => String(a.name)).join(", ");
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT - 1).trimEnd()}…` : text;
}

// Scroll to a shown message and move the focus there (messages have tabindex=-1).
function goToMessage(node, id) {
  node.scrollIntoView({ block: "center" });
  node.focus({ preventScroll: true });
  window.history.replaceState(null, "", `#${id}`);
}

// "In reply to <sender>" linking to the original, and a short quote of it; or, when the original
// is not a verified, earlier message of this thread shown here, "a message not available".
function replyBlock(item) {
  const original = view.replyTarget(item);
  if (!original) return el("p", { class: "reply-ref unavailable", text: t("reply-unavailable") });
  const id = anchorId(original);
  const link = el("a", { href: `#${id}`, text: t("in-reply-to", { name: senderName(original) }) });
  link.addEventListener("click", (event) => {
    const target = document.getElementById(id);
    if (!target) return;
    event.preventDefault();
    goToMessage(target, id);
  });
  return el("div", { class: "reply-ref" }, el("p", {}, link), el("blockquote", { class: "reply-quote", text: excerpt(original) }));
}

function replyButton(item) {
  const button = el("button", { type: "button", class: "secondary small reply", text: t("reply"),
    "aria-label": t("reply-to", { name: item.sender.name }) });
  button.addEventListener("click", () => startReply(item));
  return button;
}

function startReply(item) {
  replyingTo = item;
  $("composer-reply-name").textContent = t("replying-to", { name: senderName(item) });
  $("composer-reply-excerpt").textContent = excerpt(item);
  $("composer-reply").hidden = false;
  composer.elements.text.setAttribute("aria-describedby", "composer-reply-text");
  composer.elements.text.focus();
  announce(`${t("replying-to", { name: senderName(item) })} ${excerpt(item)}`);
}

function cancelReply({ focus = true } = {}) {
  replyingTo = null;
  $("composer-reply").hidden = true;
  composer.elements.text.removeAttribute("aria-describedby");
  $("composer-reply-name").textContent = "";
  $("composer-reply-excerpt").textContent = "";
  if (focus) composer.elements.text.focus();
}

$("cancel-reply").addEventListener("click", () => cancelReply());

// After older messages were loaded: replies whose original is now shown get their link and quote.
function resolveReplies() {
  unresolved = unresolved.filter(({ item, node }) => {
    if (!view.replyTarget(item)) return true;
    node.replaceWith(replyBlock(item));
    return false;
  });
}

// PROTOCOL.md §6: the sender saw a history of this thread that this browser was not given, even
// after fetching the log again. The page-level alert (#history-warning) says what to do.
function unknownHeadNote(item) {
  $("history-warning").hidden = false;
  return el("p", { class: "history-note" }, el("strong", { text: t("unknown-head") }),
    item.kind === "unknown-head" ? ` ${t("unknown-head-hidden", { name: item.sender.name })}` : null);
}

function messageNode(item) {
  if (item.kind === "unknown-head") {
    return el("li", { class: "message unknown-head", dataset: { messageId: item.id } }, unknownHeadNote(item));
  }
  if (item.kind === "unverified") {
    return el("li", { class: "message unverified", dataset: { messageId: item.id } },
      el("p", {}, el("strong", { text: t("unverified") })));
  }
  if (item.kind === "no-key") {
    return el("li", { class: "message no-key", dataset: { messageId: item.id } }, el("p", { text: t("no-key") }));
  }
  const sender = item.sender;
  const mine = sender.userId === session.userId;
  const header = el("p", { class: "message-header" },
    el("strong", { class: "sender", text: mine ? `${sender.name} (${t("you")})` : sender.name }), " · ",
    el("span", { class: "sender-state", text: partyName(sender.party) }), " ",
    el("span", { class: "badge verified", text: t("verified") }),
    sender.confirmed ? el("span", { class: "badge confirmed", text: t("confirmed") }) : null, " · ",
    el("time", { datetime: new Date(item.time).toISOString(), text: formatTime(item.time) }),
    item.revokedDevice ? el("span", { class: "revoked-note", text: ` (${t("revoked-device")})` }) : null);
  const handling = el("p", { class: `handling handling-${item.handling || "unknown"}` },
    el("strong", { text: t("handling") }), " ",
    el("span", { class: "handling-label", text: item.handling ? handlingLabels.get(item.handling) : t("handling-unknown") }));
  let reply = null;
  if (item.replyTo) {
    reply = replyBlock(item);
    if (reply.classList.contains("unavailable")) unresolved.push({ item, node: reply });
  }
  const text = item.text ? el("div", { class: "message-text", text: item.text }) : null;
  const files = item.attachments.length ? el("ul", { class: "attachments" }, item.attachments.map(attachmentItem)) : null;
  const actions = view.state.members.has(session.hex) ? el("p", { class: "message-actions" }, replyButton(item)) : null;
  // A stable anchor per message (its signed msg_id), the target of "In reply to" links.
  const id = anchors.has(anchorId(item)) ? null : anchorId(item);
  if (id) anchors.add(id);
  const warning = item.unknownHead ? unknownHeadNote(item) : null;
  return el("li", { class: item.unknownHead ? "message unknown-head" : "message", id, tabindex: "-1", dataset: { messageId: item.id } },
    el("article", {}, warning, header, reply, handling, text, files, actions));
}

async function renderMessages() {
  list.setAttribute("aria-busy", "true");
  const page = await view.messages();
  nextBefore = page.nextBefore;
  unresolved = [];
  anchors.clear();
  $("history-warning").hidden = true;
  list.replaceChildren(...(page.items.length ? page.items.map(messageNode) : [el("li", { class: "placeholder", text: t("no-messages") })]));
  list.setAttribute("aria-busy", "false");
  $("load-older").hidden = !nextBefore;
  const newest = page.items.length ? Math.max(...page.items.map((i) => i.id)) : 0;
  if (newest) await view.markRead(newest).catch(() => {});
  if (page.refreshed) await renderAfterRefresh();
}

$("load-older").addEventListener("click", (event) => guarded(event.currentTarget, async () => {
  const page = await view.messages(nextBefore);
  nextBefore = page.nextBefore;
  list.prepend(...page.items.map(messageNode));
  resolveReplies();
  $("load-older").hidden = !nextBefore;
  if (page.refreshed) await renderAfterRefresh();
}));

// -- header, key warnings, composer -------------------------------------------------------------

async function renderHeader() {
  const meta = await view.meta().catch(() => null);
  if (!meta) return;
  if (typeof meta.title === "string" && meta.title) {
    $("thread-title").textContent = meta.title;
    document.title = `${meta.title} · ${siteTitle}`;
  }
  $("thread-topic").textContent = topics.get(meta.topic) || "—";
  $("thread-court-ref").textContent = meta.court_ref || "—";
  $("thread-meta").hidden = false;
}

async function renderKeyWarnings() {
  const changes = view.keyChanges();
  const box = $("key-warning-items");
  box.replaceChildren();
  for (const entry of changes) {
    const code = el("p", { class: "safety-code", text: "…" });
    const accept = el("button", { type: "button", text: t("accept-key", { name: entry.name }) });
    accept.addEventListener("click", () => guarded(accept, async () => {
      await session.acceptKey(entry.userId);
      await reload();
    }));
    box.append(el("div", { class: "key-change" },
      el("p", {}, el("strong", { text: t("key-changed", { name: entry.name, state: partyName(entry.party) }) })),
      el("p", { text: t("key-changed-help", { name: entry.name }) }),
      el("p", { text: t("new-safety-number") }), code, accept));
    session.safetyNumber(entry.userId, entry.changedUik).then((n) => { code.textContent = n; }).catch(() => {});
  }
  $("key-warning").hidden = changes.length === 0;
}

function updateComposer() {
  const blocker = view.sendBlocker();
  $("composer-blocked").hidden = !blocker;
  $("composer-blocked").textContent = blocker || "";
  sendButton.disabled = Boolean(blocker);
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!view) return;
  const text = composer.elements.text.value;
  const handling = composer.elements.handling.value;
  const fileInput = $("composer-files");
  const files = [...fileInput.files];
  if (!handling) { showError(t("choose-handling")); composer.elements.handling.focus(); return; }
  if (!text.trim() && files.length === 0) { showError(t("empty-message")); composer.elements.text.focus(); return; }
  guarded(sendButton, async () => {
    const area = $("composer-progress");
    area.replaceChildren();
    announce(t("encrypting-message"));
    await view.send({ text, handling, files, replyTo: replyingTo ? replyingTo.msgId : null },
      { progress: (label) => progress(area, label) });
    composer.elements.text.value = "";
    fileInput.value = "";
    cancelReply({ focus: false });
    await renderMessages();
    await renderParticipants();
    announce(t("sent"));  // last: the page shows the message and is done working
  }).finally(updateComposer);
});

// -- participants ------------------------------------------------------------------------------

// A button that asks for a second click before an irreversible change.
function confirmButton(label, action) {
  const button = el("button", { type: "button", class: "danger small", text: label });
  let armed = false;
  button.addEventListener("click", () => {
    if (!armed) { armed = true; button.textContent = t("confirm-remove"); return; }
    guarded(button, action);
  });
  return button;
}

function personItem(userHexId) {
  const entry = view.people.get(userHexId);
  const mine = userHexId === session.hex;
  const name = entry ? entry.name : userHexId;
  const item = el("li", { class: "participant" },
    el("span", { class: "participant-name", text: mine ? `${name} (${t("you")})` : name }),
    entry?.admin ? el("span", { class: "tag", text: t("admin") }) : null,
    entry?.confirmed ? el("span", { class: "badge confirmed", text: t("confirmed") }) : null,
    entry ? null : el("span", { class: "tag", text: t("no-keys") }));
  if (entry && !mine) {
    const code = el("p", { class: "safety-code", text: "…" });
    const confirm = el("button", { type: "button", class: "secondary small", text: t("mark-confirmed", { name }) });
    confirm.addEventListener("click", () => guarded(confirm, async () => {
      await session.markConfirmed(entry.userId);
      await reload();
    }));
    const details = el("details", {}, el("summary", { text: t("safety-number", { name }) }), code, entry.confirmed ? null : confirm);
    details.addEventListener("toggle", () => {
      if (details.open && code.textContent === "…") {
        session.safetyNumber(entry.userId).then((n) => { code.textContent = n; }).catch(() => {});
      }
    }, { once: false });
    item.append(details);
  }
  if (view.canRemoveUser(userHexId) && view.state.members.size > 1) {
    item.append(" ", confirmButton(mine ? t("leave") : t("remove-user", { name }), async () => {
      await view.change("remove_user", { userId: entry ? entry.userId : Number(BigInt(`0x${userHexId}`)) });
      if (mine) {
        announce(t("left"));
        window.location.assign(context.listUrl);
        return;
      }
      announce(t("removed"));
      await renderAfterChange();
    }));
  }
  return item;
}

async function renderParticipants() {
  const state = view.state;
  $("history-policy").textContent = state.policy.share_history ? t("share-history-yes") : t("share-history-no");
  const box = $("participants");
  box.replaceChildren();
  const codes = [...state.states].sort((a, b) => (a === state.ownerState ? -1 : b === state.ownerState ? 1 : a.localeCompare(b)));
  for (const code of codes) {
    const members = [...state.members].filter(([, st]) => st === code).map(([h]) => h);
    const heading = el("h3", {}, `${partyName(code)} (${code})`, code === state.ownerState ? el("span", { class: "tag", text: t("owner") }) : null);
    const group = el("div", { class: "participant-state" }, heading, el("ul", {}, members.map(personItem)));
    if (view.canRemoveState(code)) {
      group.append(confirmButton(t("remove-state", { state: partyName(code) }), async () => {
        await view.change("remove_state", { party: code });
        announce(t("removed"));
        await renderAfterChange();
      }));
    }
    box.append(group);
  }
  // Add a State: the owner State's administrators; only parties not in the thread.
  const addState = $("add-state-form");
  addState.hidden = !view.canAddState();
  $("add-state").replaceChildren(...stateOptions.filter((o) => !state.states.has(o.value)));
  // Add a person of a participating party who has keys and is not a member.
  const addUser = $("add-user-form");
  const mayAddSomeone = [...state.states].some((code) => view.canAddUser(code));
  let candidates = [];
  if (mayAddSomeone) candidates = await view.candidates().catch(() => []);
  $("add-user").replaceChildren(...candidates.map((c) => el("option", { value: c.userId, text: `${c.name} (${c.party})` })));
  addUser.hidden = candidates.length === 0;
  $("rotate-form").hidden = !state.members.has(session.hex);
  $("thread-safety-code").textContent = await view.safetyCode();
}

$("add-state-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const party = $("add-state").value;
  if (!party) return;
  guarded(event.currentTarget.querySelector("button"), async () => {
    await view.change("add_state", { party });
    announce(t("added"));
    await renderAfterChange();
  });
});

$("add-user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const userId = Number($("add-user").value);
  if (!userId) return;
  guarded(event.currentTarget.querySelector("button"), async () => {
    await view.change("add_user", { userId });
    announce(t("added"));
    await renderAfterChange();
  });
});

$("rotate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(event.currentTarget.querySelector("button"), async () => {
    await view.change("rotate");
    announce(t("rotated"));
    await renderAfterChange();
  });
});

$("refresh").addEventListener("click", (event) => guarded(event.currentTarget, async () => {
  await view.load();
  await renderAll();
  announce(t("refreshed"));
}));

// The log was fetched again while messages were opened (a sender had seen newer events).
async function renderAfterRefresh() {
  await renderHeader();
  await renderAfterChange();
}

async function renderAfterChange() {
  await renderParticipants();
  renderKeyWarnings();
  updateComposer();
}

async function reload() {
  await view.load();
  await renderAll();
}

async function renderAll() {
  await renderHeader();
  await renderKeyWarnings();
  updateComposer();
  await renderMessages();
  await renderParticipants();
}

// -- start -------------------------------------------------------------------------------------

session = await openSession();
if (!session || session.status !== "ready") {
  list.replaceChildren(el("li", { class: "placeholder", text: t("keys-needed") }));
  list.setAttribute("aria-busy", "false");
} else {
  try {
    view = session.thread(context.threadId);
    await view.load();
    await renderAll();
    $("refresh").disabled = false;
    // A link to one message (#msg-…): show it once the messages are there.
    const target = /^#msg-[0-9a-f]{32}$/.test(window.location.hash) ? document.getElementById(window.location.hash.slice(1)) : null;
    if (target) goToMessage(target, target.id);
  } catch (error) {
    list.replaceChildren();
    list.setAttribute("aria-busy", "false");
    showError(describe(error));
  }
}
