/**
 * A catalog row's buttons for its state: download, pause or resume, cancel, delete, remove, and the
 * queue's move up and down (Alt+ArrowUp and Alt+ArrowDown anywhere in the row do the same).
 */
import { h } from "./dom";
import { canPause, inQueue, isActive, movedPosition, type Shown } from "./shown";
import type { Model } from "./types";

/** What a row's buttons and checkbox ask for; main.ts answers with the API calls. */
export interface RowActions {
  download(model: Model): void;
  cancel(model: Model): void;
  pause(model: Model): void;
  resume(model: Model): void;
  /** Asks the queue to put the model at `position` (0 = next to start). */
  move(model: Model, position: number): void;
  deleteFile(model: Model): void;
  remove(model: Model): void;
  select(files: readonly string[], selected: boolean): void;
  /** The stream moved a row to another state: a download started, finished or failed. */
  changed(model: Model, now: Shown, before: Shown): void;
}

export function rowButtons(model: Model, shown: Shown, actions: RowActions): HTMLElement[] {
  const button = (label: string, action: string, onclick: () => void, extra: Record<string, string | boolean> = {}) =>
    h("button", { type: "button", "data-action": action, "aria-label": `${label} ${model.name}`, onclick, ...extra }, label);
  // the first button is always the one that starts or ends a download: Download becomes Cancel, in its place
  const buttons: HTMLElement[] = [
    isActive(shown.status)
      ? button("Cancel", "cancel", () => actions.cancel(model))
      : shown.status === "present"
        ? button("Delete file", "delete", () => actions.deleteFile(model), { class: "button-danger" })
        : button(shown.status === "error" ? "Retry" : "Download", "download", () => actions.download(model), { class: "button-primary" }),
  ];
  if (canPause(shown.status)) buttons.push(button("Pause", "pause", () => actions.pause(model)));
  else if (shown.status === "paused") buttons.push(button("Resume", "resume", () => actions.resume(model), { class: "button-primary" }));
  if (inQueue(shown.status) && shown.position !== undefined) buttons.push(moveButtons(model, shown.position, actions));
  const blocked = shown.status === "present" ? "Delete the file first" : isActive(shown.status) ? "Cancel the download first" : "";
  buttons.push(
    button("Remove from catalog", "remove", () => actions.remove(model), {
      class: "button-quiet",
      disabled: blocked !== "",
      ...(blocked !== "" && { title: blocked }),
    }),
  );
  return buttons;
}

function moveButtons(model: Model, position: number, actions: RowActions): HTMLElement {
  const move = (direction: "up" | "down", arrow: string, word: string) => {
    const target = movedPosition(position, direction);
    return h(
      "button",
      {
        type: "button",
        "data-action": `move-${direction}`,
        "aria-label": `Move ${model.name} ${direction} the queue`,
        "aria-keyshortcuts": direction === "up" ? "Alt+ArrowUp" : "Alt+ArrowDown",
        title: `Move ${direction} the queue (Alt+${arrow})`,
        disabled: target === undefined,
        onclick: () => target !== undefined && actions.move(model, target),
      },
      h("span", { "aria-hidden": "true" }, `${arrow} `),
      word,
    );
  };
  return h("div", { class: "row-move", role: "group", "aria-label": `Place of ${model.name} in the queue` }, move("up", "↑", "Up"), move("down", "↓", "Down"));
}

/** Alt+ArrowUp or Alt+ArrowDown from any control of a queued or paused row moves it; the focus stays where it is. */
export function moveByKey(event: KeyboardEvent, model: Model, shown: Shown, actions: RowActions): void {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  if (!inQueue(shown.status) || shown.position === undefined) return;
  event.preventDefault();
  const target = movedPosition(shown.position, event.key === "ArrowUp" ? "up" : "down");
  if (target !== undefined) actions.move(model, target);
}
