// Keys and devices: enrol this browser (the Recovery Key is shown once), restore the keys on a
// new browser with the Recovery Key, list and revoke devices, the mail notification choice.
import * as api from "./api.js";
import { context } from "./common.js";
import { announce, clearError, describe, el, formatTime, guarded, showError, t } from "./dom.js";
import { Session } from "./engine.js";

const $ = (id) => document.getElementById(id);
const enrolForm = $("enrol-form"), recoverForm = $("recover-form"), rkBox = $("recovery-key-box");
const storedForm = $("stored-form"), storedCheck = $("stored-check");
let session = null;

function render() {
  const status = session.status;
  const parts = [t(`status-${status}`)];
  if (session.problem) parts.push(t(`problem-${session.problem}`));
  $("key-status").textContent = parts.join(" ");
  enrolForm.hidden = status !== "unenrolled";
  recoverForm.hidden = status !== "needs-recovery";
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
          await session.revokeDevice(device.id);
          announce(t("revoked"));
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
    announce(t("recovered"));
    render();
    clearError();
  });
});

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
  render();
  const { mode } = await api.get("/notifications");
  const radio = document.getElementById(`notify-${mode}`);
  if (radio) radio.checked = true;
} catch (error) {
  showError(describe(error));
}
