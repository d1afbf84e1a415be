// Keys and devices: enrol this browser (the Recovery Key is shown once), set up a new browser by
// approval from another one (device-approval.js) or with the Recovery Key, approve or refuse
// browsers waiting for approval, list and revoke devices, bring the Recovery Key backup of an
// older enrolment up to date, the mail notification choice.
import * as api from "./api.js";
import { context } from "./common.js";
import * as DA from "./device-approval.js";
import { announce, clearError, describe, el, formatTime, guarded, showError, t } from "./dom.js";
import { Session } from "./engine.js";

const $ = (id) => document.getElementById(id);
const enrolForm = $("enrol-form"), recoverForm = $("recover-form"), rkBox = $("recovery-key-box");
const storedForm = $("stored-form"), storedCheck = $("stored-check"), backupForm = $("backup-form");
const approvalForm = $("approval-form"), waitingBox = $("approval-waiting"), progressText = $("approval-progress");
const POLL_MS = 3000;   // the new browser looks for the approval
const LIST_MS = 5000;   // a browser with the keys looks for new requests
let session = null;
let pending = null;     // this browser's own request for approval: {label, code, expiresAt}
let pollTimer = null, listTimer = null;

function render() {
  const status = session.status;
  const parts = [t(`status-${status}`)];
  if (session.problem) parts.push(t(`problem-${session.problem}`));
  $("key-status").textContent = parts.join(" ");
  enrolForm.hidden = status !== "unenrolled";
  const needsKeys = status === "needs-recovery";
  recoverForm.hidden = !needsKeys;
  $("recover-choice").hidden = !needsKeys;
  $("approval-choice").hidden = !needsKeys || pending !== null;
  waitingBox.hidden = !needsKeys || pending === null;
  if (pending) $("approval-code").textContent = pending.code;
  $("backup-update").hidden = !session.needsRecoveryUpdate;
  $("approvals-section").hidden = status !== "ready";
  if (status === "ready") startApprovalList();
  else stopApprovalList();
  $("devices-section").hidden = status === "unenrolled";
  const rows = $("device-rows");
  rows.replaceChildren();
  for (const device of session.devices()) {
    const state = device.revokedAt ? t("revoked-status") : device.current ? `${t("active")}, ${t("this-browser")}` : t("active");
    const actions = el("td");
    if (!device.revokedAt && session.status === "ready") {
      const button = el("button", { type: "button", class: "danger", text: t("revoke", { name: device.label }) });
      let armed = false;
      button.addEventListener("click", () => {
        if (!armed) {  // a second, explicit click: revoking cannot be undone
          armed = true;
          button.textContent = t("confirm-revoke", { name: device.label });
          return;
        }
        guarded(button, async () => {
          const resealed = await session.revokeDevice(device.id);
          announce(resealed ? t("revoked") : t("revoked-backup-outdated"));
          render();
        });
      });
      actions.append(button);
    }
    rows.append(el("tr", {}, el("td", { text: device.label }),
      el("td", {}, el("time", { datetime: device.createdAt, text: formatTime(Date.parse(device.createdAt)) })),
      el("td", { text: state }), actions));
  }
}

enrolForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const label = enrolForm.elements.label.value.trim();
  if (!label) { showError(t("label-required")); enrolForm.elements.label.focus(); return; }
  guarded(enrolForm.querySelector("button"), async () => {
    announce(t("working"));
    const shown = await session.enrol(label);
    enrolForm.hidden = true;
    $("key-status").textContent = t("enrolled");
    $("recovery-key").textContent = shown;
    rkBox.hidden = false;
    storedCheck.checked = false;
    storedForm.querySelector("button").disabled = true;
    announce(t("enrolled"));
    $("rk-h").tabIndex = -1;
    $("rk-h").focus();
  });
});

storedCheck.addEventListener("change", () => { storedForm.querySelector("button").disabled = !storedCheck.checked; });
storedForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!storedCheck.checked) return;
  $("recovery-key").textContent = "";  // shown once: gone from the page now
  rkBox.hidden = true;
  render();
  $("key-status").tabIndex = -1;
  $("key-status").focus();
});

recoverForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = recoverForm.elements.recovery_key.value;
  const label = recoverForm.elements.label.value.trim();
  if (!key.trim()) { showError(t("rk-invalid")); recoverForm.elements.recovery_key.focus(); return; }
  if (!label) { showError(t("label-required")); recoverForm.elements.label.focus(); return; }
  guarded(recoverForm.querySelector("button"), async () => {
    announce(t("working"));
    await session.recover(key, label);
    recoverForm.elements.recovery_key.value = "";
    if (pending) {  // restored another way: the request for approval is no longer needed
      stopPolling();
      pending = null;
      await DA.cancelApproval(session).catch(() => {});
    }
    announce(t("recovered"));
    render();
    clearError();
  });
});

// The Recovery Key entered once on a browser whose keys lack the recovery public key (PROTOCOL.md §8).
backupForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = backupForm.elements.recovery_key.value;
  if (!key.trim()) { showError(t("rk-invalid")); backupForm.elements.recovery_key.focus(); return; }
  guarded(backupForm.querySelector("button"), async () => {
    announce(t("working"));
    await session.updateRecovery(key);
    backupForm.elements.recovery_key.value = "";
    render();
    announce(t("backup-updated"));
    $("key-status").tabIndex = -1;
    $("key-status").focus();
  });
});

// -- this browser asks another one for approval ----------------------------------------------------

function stopPolling() {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
}
function schedulePoll() {
  stopPolling();
  pollTimer = setTimeout(() => { poll(false); }, POLL_MS);
}

// One look at the request; `asked`: the person pressed "Check now" (they hear the answer).
// Never two at once: an approval must be completed once.
let polling = false;
async function poll(asked) {
  stopPolling();
  if (polling) return;
  polling = true;
  try {
    await pollOnce(asked);
  } finally {
    polling = false;
  }
}

async function pollOnce(asked) {
  let state;
  try {
    state = await DA.checkApproval(session);
  } catch (error) {
    if (error.status === 0 || error.status >= 500) {  // the network or the platform: look again later
      if (asked) showError(describe(error));
      schedulePoll();
      return;
    }
    // An approval that does not verify is never used: the request is withdrawn.
    showError(describe(error));
    pending = null;
    await DA.cancelApproval(session).catch(() => {});
    progressText.textContent = "";
    render();
    return;
  }
  if (state === "waiting") {
    if (asked) progressText.textContent = t("approval-still-waiting", { time: formatTime(Date.now()) });
    schedulePoll();
    return;
  }
  pending = null;
  progressText.textContent = t("approval-waiting");
  render();
  const message = state === "done" ? t("approval-done") : t("approval-gone");
  announce(message);
  $("key-status").textContent = state === "done" ? message : `${message} ${$("key-status").textContent}`;
  $("key-status").tabIndex = -1;
  $("key-status").focus();
}

approvalForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const label = approvalForm.elements.label.value.trim();
  if (!label) { showError(t("label-required")); approvalForm.elements.label.focus(); return; }
  guarded(approvalForm.querySelector("button"), async () => {
    announce(t("working"));
    pending = await DA.requestApproval(session, label);
    progressText.textContent = t("approval-waiting");
    render();
    announce(t("approval-requested"));
    $("approval-waiting-h").focus();
    schedulePoll();
  });
});

$("approval-check").addEventListener("click", () => {
  guarded($("approval-check"), () => poll(true));
});

$("approval-cancel").addEventListener("click", () => {
  guarded($("approval-cancel"), async () => {
    stopPolling();
    await DA.cancelApproval(session);
    pending = null;
    render();
    announce(t("approval-cancelled"));
    $("approval-choice-h").tabIndex = -1;
    $("approval-choice-h").focus();
  });
});

// -- browsers waiting for this one's approval -----------------------------------------------------

const shownRequests = new Map();  // request id → its list item, rendered once with the keys it shows
let requestCount = 0;

function markApproved(item) {
  item.querySelector(".approval-decision")?.remove();
  item.querySelector(".approval-state").textContent = t("approved-waiting");
}

function requestItem(request) {
  const n = ++requestCount;
  const title = el("h3", { id: `approval-title-${n}`, text: t("approval-title", { name: request.label }) });
  const item = el("li", { class: "approval-request", "aria-labelledby": title.id, dataset: { request: request.id } },
    title,
    el("p", {}, t("approval-asked"), " ", el("time", { datetime: request.createdAt, text: formatTime(Date.parse(request.createdAt)) })),
    el("p", {}, el("span", { id: `approval-code-label-${n}`, text: t("approval-code") }), " ",
      el("span", { class: "safety-code approval-code", "aria-labelledby": `approval-code-label-${n}`, text: request.code })),
    el("p", { class: "approval-state" }));
  if (request.status === "approved") {
    markApproved(item);
    return item;
  }
  const check = el("input", { type: "checkbox", id: `approval-match-${n}` });
  const approveButton = el("button", { type: "button", text: t("approve", { name: request.label }), disabled: true });
  const refuseButton = el("button", { type: "button", class: "danger", text: t("refuse", { name: request.label }) });
  check.addEventListener("change", () => { approveButton.disabled = !check.checked; });
  approveButton.addEventListener("click", () => {
    if (!check.checked) return;
    guarded(approveButton, async () => {
      announce(t("working"));
      await DA.approve(session, request);  // sealed to exactly the keys this item's code was made from
      markApproved(item);
      announce(t("approved"));
    });
  });
  refuseButton.addEventListener("click", () => {
    guarded(refuseButton, async () => {
      await DA.refuse(session, request);
      item.remove();
      shownRequests.delete(request.id);
      $("approvals-empty").hidden = shownRequests.size > 0;
      announce(t("refused"));
      $("approvals-h").tabIndex = -1;
      $("approvals-h").focus();
    });
  });
  item.append(el("div", { class: "approval-decision" },
    el("div", { class: "field" }, check, " ", el("label", { for: check.id, text: t("approval-match") })),
    el("p", { class: "actions" }, approveButton, " ", refuseButton)));
  return item;
}

async function refreshRequests(announceNew) {
  const requests = await DA.approvalRequests(session);
  const ids = new Set(requests.map((r) => r.id));
  for (const [id, item] of shownRequests) {
    if (!ids.has(id)) { item.remove(); shownRequests.delete(id); }
  }
  let added = false;
  for (const request of requests) {
    const shown = shownRequests.get(request.id);
    if (!shown) {
      const item = requestItem(request);
      $("approval-rows").append(item);
      shownRequests.set(request.id, item);
      added = true;
    } else if (request.status === "approved") {
      markApproved(shown);
    }
  }
  $("approvals-empty").hidden = shownRequests.size > 0;
  if (added && announceNew) announce(t("approval-new"));
}

let listRunning = false;
function startApprovalList() {
  if (listRunning) return;
  listRunning = true;
  const tick = async (first) => {
    if (!listRunning) return;
    try {
      await refreshRequests(!first);
    } catch (error) {
      if (error.status !== 0) { showError(describe(error)); listRunning = false; return; }
    }
    if (listRunning) listTimer = setTimeout(() => { tick(false); }, LIST_MS);
  };
  tick(true);
}

function stopApprovalList() {
  listRunning = false;
  if (listTimer !== null) clearTimeout(listTimer);
  listTimer = null;
}

const notifyForm = $("notify-form");
notifyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const mode = notifyForm.elements.mode.value;
  guarded(notifyForm.querySelector("button"), async () => {
    await api.put("/notifications", { mode });
    announce(t("saved"));
  });
});

try {
  session = await Session.open(context.userId);
  if (session.status === "needs-recovery") pending = await DA.pendingRequest(session);
  progressText.textContent = t("approval-waiting");
  render();
  if (pending) poll(false);  // resumes the wait after a reload
  const { mode } = await api.get("/notifications");
  const radio = document.getElementById(`notify-${mode}`);
  if (radio) radio.checked = true;
} catch (error) {
  showError(describe(error));
}
