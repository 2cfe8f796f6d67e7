/**
 * Messages about what an action did. Both lists are live regions: confirmations are announced politely
 * and go away by themselves; errors are announced at once and stay until dismissed, since a person may
 * need them to act.
 */
import { byId, h } from "./dom";

const MAX_SHOWN = 5;
const INFO_MS = 8_000;

function show(list: HTMLElement, kind: "info" | "error", message: string): void {
  const item = h(
    "li",
    { class: `notice notice-${kind}` },
    h("span", { class: "notice-text" }, message),
    h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  list.append(item);
  while (list.children.length > MAX_SHOWN) list.firstElementChild?.remove();
  if (kind === "info") setTimeout(() => item.remove(), INFO_MS);
}

export const notices = {
  info: (message: string) => show(byId("notices-info"), "info", message),
  error: (message: string) => show(byId("notices-error"), "error", message),
};

/** Said to a screen reader only: a download that finished needs no message on screen, its row shows it. */
export function announce(message: string): void {
  const region = byId("announcer");
  // the same words twice in a row are announced twice only if the region changes in between
  region.textContent = "";
  window.setTimeout(() => (region.textContent = message), 50);
}
