// One travel report: verify and decrypt the report (the first message of its encrypted thread,
// from the reporter) with the threads engine, show it, then tell the platform that this
// recipient has read it. Decrypted text is only ever set as textContent.
import { context, names, openSession } from "/static/js/threads/common.js";
import { announce, describe, el, formatTime, t } from "/static/js/threads/dom.js";
import { postJson, tt } from "./common.js";

const box = document.getElementById("report-content");
const handlingNames = names("#handling-names");
const MAX_PAGES = 10;  // 2,000 messages: the report is the first one

async function firstReport(view) {
  let page = await view.messages();
  for (let n = 1; page.nextBefore && n < MAX_PAGES; n++) {
    const older = await view.messages(page.nextBefore);
    page = { items: [...older.items, ...page.items], nextBefore: older.nextBefore };
  }
  const reporter = Number(context.reporterId);
  // A report sent after log events this browser was not given stays hidden (its kind is
  // "unknown-head"), but is found, so that the page can say why (PROTOCOL.md §6).
  return page.items.find((item) => (item.kind === "message" || item.kind === "unknown-head")
    && item.sender?.userId === reporter) || null;
}

// The server withheld or forked the thread's history (PROTOCOL.md §6): a loud warning, with
// the content only when the rest of the message verified and decrypted.
function historyWarning(item) {
  return el("p", { class: "history-note", role: "alert" }, el("strong", { text: t("unknown-head") }),
    item.kind === "unknown-head" ? ` ${t("unknown-head-hidden", { name: item.sender.name })}` : null);
}

function render(meta, item) {
  box.replaceChildren(
    el("h3", { id: "report-title", text: meta?.title || "" }),
    el("p", { class: "message-header" },
      el("strong", { class: "sender", text: tt("sent-by", { name: item.sender.name }) }), " ",
      el("span", { class: "badge verified", text: t("verified") }), " · ",
      el("time", { datetime: new Date(item.time).toISOString(), text: formatTime(item.time) })),
    el("p", { class: "handling" }, el("strong", { text: t("handling") }), " ",
      el("span", { class: "handling-label", text: item.handling ? (handlingNames.get(item.handling) || item.handling) : t("handling-unknown") })),
    el("div", { class: "message-text", id: "report-text", text: item.text }));
}

async function markRead() {
  const answer = await postJson(context.readUrl, {});
  if (!answer.recorded || !answer.first_read_at) return;
  const cell = document.querySelector(`#recipients tr[data-user-id="${context.userId}"] .first-read`);
  if (cell) cell.replaceChildren(el("time", { datetime: answer.first_read_at, text: formatTime(Date.parse(answer.first_read_at)) }));
  announce(tt("read-recorded"));
}

const session = await openSession();
if (!session || session.status !== "ready") {
  box.replaceChildren(el("p", { class: "placeholder", text: t("keys-needed") }));
} else {
  try {
    announce(tt("decrypting"));
    const view = session.thread(context.threadId);
    await view.load();
    const meta = await view.meta();
    const item = await firstReport(view);
    if (!item) {
      box.replaceChildren(el("p", { class: "placeholder", text: tt("no-report") }));
    } else if (item.kind === "unknown-head") {
      box.replaceChildren(historyWarning(item));
    } else {
      render(meta, item);
      if (item.unknownHead) box.prepend(historyWarning(item));
      announce(tt("decrypted"));
      if (context.unread === "1") await markRead();
    }
  } catch (error) {
    box.replaceChildren();
    showProblem(error);
  }
}
box.setAttribute("aria-busy", "false");

function showProblem(error) {
  box.append(el("p", { class: "placeholder", text: error?.status === 404 ? tt("not-member") : describe(error) }));
}
