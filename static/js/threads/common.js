// What every threads page starts with: the page context rendered by the server, and this
// user's session (keys in this browser), with the "set up your keys" notice when needed.
import { describe, showError } from "./dom.js";
import { Session } from "./engine.js";

export const context = document.getElementById("threads-context").dataset;

// code → label from a hidden <ul> of the template (party names, topic labels).
export function names(selector) {
  return new Map([...document.querySelectorAll(`${selector} [data-code]`)].map((li) => [li.dataset.code, li.textContent]));
}

export async function openSession() {
  try {
    const session = await Session.open(context.userId);
    if (session.status !== "ready") document.getElementById("keys-needed").hidden = false;
    return session;
  } catch (error) {
    showError(describe(error));
    return null;
  }
}
