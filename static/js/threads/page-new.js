// New thread: the title, topic and reference are encrypted here; the server gets the parties
// (it needs them for access control) and ciphertext.
import { context, openSession } from "./common.js";
import { announce, el, guarded, showError, t } from "./dom.js";

const form = document.getElementById("new-thread");
const button = form.querySelector("button[type=submit]");
const session = await openSession();

if (session && session.status === "ready") {
  button.disabled = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title.value.trim();
    const topic = form.elements.topic.value;
    if (!title) { showError(t("title-required")); form.elements.title.focus(); return; }
    if (!topic) { showError(t("choose-topic")); form.elements.topic.focus(); return; }
    await guarded(button, async () => {
      const result = await session.createThread({
        title, topic, courtRef: form.elements.court_ref.value.trim(),
        parties: [...form.elements.parties.selectedOptions].map((o) => o.value),
        shareHistory: form.elements.share_history.checked,
      }, announce);
      const url = `${context.listUrl}/${result.threadId}`;
      if (result.skipped.length) {
        // Say who is missing before leaving the page: the person may want to tell them.
        showError(t("skipped", { names: result.skipped.join(", ") }));
        form.after(el("p", {}, el("a", { href: url, text: t("open-thread") })));
        return;
      }
      announce(t("created"));
      window.location.assign(url);
    });
  });
}
