// The list of threads: the server rendered the rows; titles and topics are decrypted here.
import { names, openSession } from "./common.js";
import { t } from "./dom.js";

const topics = names("#topic-names");
const session = await openSession();
if (session && session.status === "ready") {
  for (const row of document.querySelectorAll("#thread-list tbody tr[data-thread-id]")) {
    const link = row.querySelector(".thread-title");
    try {
      const view = session.thread(row.dataset.threadId);
      await view.load({ fresh: false });
      const meta = await view.meta();
      if (meta && typeof meta.title === "string") link.textContent = meta.title;
      else link.textContent = t("unreadable-thread");
      if (meta && topics.has(meta.topic)) row.querySelector(".thread-topic").textContent = topics.get(meta.topic);
    } catch {
      link.textContent = t("unreadable-thread");
    }
  }
}
