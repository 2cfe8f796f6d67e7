import { h, replaceChildren } from "./dom";
import { tagsOf } from "./filter";
import { formatBytes, formatSizeGb, progressText } from "./format";
import { moveByKey, rowButtons, type RowActions } from "./row-buttons";
import { canDownload, queuePlace, shownState, STATUS_LABELS, type Shown } from "./shown";
import type { Category, LiveDownload, Model } from "./types";

export type { RowActions } from "./row-buttons";

interface Row {
  readonly model: Model;
  readonly status: HTMLElement;
  readonly actions: HTMLElement;
  readonly select: HTMLInputElement;
  shown: Shown;
  bar?: HTMLProgressElement;
  barText?: HTMLElement;
}

type Live = Readonly<Record<string, LiveDownload>>;

const shownKey = ({ status, progress, error, damaged, position }: Shown): string =>
  `${status}|${progress?.status ?? ""}|${error ?? ""}|${damaged === true}|${position ?? ""}`;

/**
 * The catalog as tables, one per category. `render` builds them for a listing and its filters; `update`
 * moves the bars and changes the rows whose state changed, in place, once a second: a person tabbing
 * through the buttons keeps their place while downloads run.
 */
export class CatalogView {
  readonly #root: HTMLElement;
  readonly #actions: RowActions;
  #rows = new Map<string, Row>();

  constructor(root: HTMLElement, actions: RowActions) {
    this.#root = root;
    this.#actions = actions;
  }

  render(categories: readonly Category[], live: Live, selected: ReadonlySet<string>, emptyMessage: string): void {
    const focus = focusedControl(this.#root);
    const before = this.#rows;
    this.#rows = new Map();
    if (categories.length === 0) {
      replaceChildren(this.#root, h("p", { class: "empty" }, emptyMessage));
      return;
    }
    replaceChildren(this.#root, ...categories.map((category, index) => this.#section(category, index, live, selected)));
    if (focus) restoreFocus(this.#root, focus);
    // a listing can bring news before the stream does (a download that failed between two events): a
    // row rebuilt in another state says so as an update would, or its failure would go unmentioned
    for (const [file, row] of this.#rows) {
      const old = before.get(file);
      if (old && shownKey(old.shown) !== shownKey(row.shown)) this.#actions.changed(row.model, row.shown, old.shown);
    }
  }

  update(live: Live): void {
    for (const row of this.#rows.values()) {
      const shown = shownState(row.model, live[row.model.file]);
      if (shownKey(shown) !== shownKey(row.shown)) {
        this.#refreshRow(row, shown);
        this.#actions.changed(row.model, shown, row.shown);
      }
      else if (shown.progress && row.bar && row.barText) setBar(row.bar, row.barText, shown.progress);
      row.shown = shown;
    }
  }

  /** Brings a model's row into view (one just added); nothing when the filters hide it. */
  reveal(file: string): void {
    const row = this.#root.querySelector(`tr[data-file="${CSS.escape(file)}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }

  #section(category: Category, index: number, live: Live, selected: ReadonlySet<string>): HTMLElement {
    const headingId = `category-${index}`;
    const rows = category.models.map((model) => this.#row(model, live[model.file], selected));
    const downloadable = () => category.models.filter((model) => canDownload(this.#rows.get(model.file)?.shown.status ?? model.status));
    const selectAll = h("input", {
      type: "checkbox",
      "aria-label": `Select every model of ${category.name} that can be downloaded`,
      onchange: () => {
        const files = downloadable().map((model) => model.file);
        for (const file of files) {
          const row = this.#rows.get(file);
          if (row) row.select.checked = selectAll.checked;
        }
        this.#actions.select(files, selectAll.checked);
      },
    });
    const present = category.models.filter((model) => model.status === "present").length;
    return h(
      "section",
      { class: "category", "aria-labelledby": headingId },
      h("h3", { id: headingId }, category.name, " ", h("span", { class: "muted" }, `${present} of ${category.models.length} on disk`)),
      h(
        "table",
        { class: "models" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col", class: "col-select" }, selectAll),
            h("th", { scope: "col", class: "col-model" }, "Model"),
            h("th", { scope: "col", class: "col-base" }, "Base model"),
            h("th", { scope: "col", class: "col-tags" }, "Tags"),
            h("th", { scope: "col", class: "col-size num" }, "Size"),
            h("th", { scope: "col", class: "col-status" }, "Status"),
            h("th", { scope: "col", class: "col-size num" }, "On disk"),
            h("th", { scope: "col", class: "col-actions" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        h("tbody", {}, ...rows),
      ),
    );
  }

  #row(model: Model, live: LiveDownload | undefined, selected: ReadonlySet<string>): HTMLTableRowElement {
    const shown = shownState(model, live);
    const select = h("input", {
      type: "checkbox",
      "aria-label": `Select ${model.name}`,
      onchange: () => this.#actions.select([model.file], select.checked),
    });
    select.checked = selected.has(model.file);
    const row: Row = { model, status: h("td", { class: "col-status", "data-label": "Status" }), actions: h("td", { class: "col-actions" }), select, shown };
    this.#rows.set(model.file, row);
    this.#fillState(row, shown);
    const tags = tagsOf(model);
    return h(
      "tr",
      { "data-file": model.file, onkeydown: (event) => moveByKey(event as KeyboardEvent, model, row.shown, this.#actions) },
      h("td", { class: "col-select" }, select),
      h(
        "th",
        { scope: "row", class: "col-model" },
        h("span", { class: "model-name" }, model.name),
        h("code", { class: "model-file", title: `${model.dest}/${model.file}` }, model.file),
      ),
      h("td", { "data-label": "Base model" }, model.base_model ?? "–"),
      h("td", { "data-label": "Tags" }, tags.length > 0 ? h("ul", { class: "tags" }, ...tags.map((tag) => h("li", { title: tag }, tag))) : "–"),
      h("td", { class: "num", "data-label": "Size" }, formatSizeGb(model.size_gb)),
      row.status,
      h("td", { class: "num", "data-label": "On disk" }, model.on_disk_bytes > 0 ? formatBytes(model.on_disk_bytes) : "–"),
      row.actions,
    );
  }

  #refreshRow(row: Row, shown: Shown): void {
    const focused = row.actions.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.action : undefined;
    const wasSelected = row.select.checked;
    this.#fillState(row, shown);
    // a model on its way (queued from elsewhere) can't be downloaded again: it leaves the selection
    if (wasSelected && !canDownload(shown.status)) this.#actions.select([row.model.file], false);
    // the same button when the row still has it (a move), else its successor (Download became Cancel)
    if (focused !== undefined) focusIn(row.actions, focused);
  }

  #fillState(row: Row, shown: Shown): void {
    const { model } = row;
    row.select.disabled = !canDownload(shown.status);
    if (row.select.disabled) row.select.checked = false;
    const badge = shown.damaged
      ? h("span", { class: "badge badge-damaged" }, "Damaged")
      : h("span", { class: `badge badge-${shown.status}` }, STATUS_LABELS[shown.status]);
    // a verify found the file's SHA256 to be the catalog's, and the file has not changed since
    const place = shown.position !== undefined && h("span", { class: "queue-place" }, queuePlace(shown.position));
    const mark = model.verified === true && shown.status === "present" && h("span", { class: "verified", title: "Its SHA256 matched the catalog's at the last verify" }, h("span", { "aria-hidden": "true" }, "✓ "), "Verified");
    delete row.bar;
    delete row.barText;
    if (shown.progress) {
      row.bar = h("progress", { max: 100, "aria-label": `Download of ${model.name}` });
      row.barText = h("span", { class: "progress-text" });
      setBar(row.bar, row.barText, shown.progress);
      replaceChildren(row.status, h("div", {}, badge, mark, place, h("div", { class: "progress" }, row.bar, row.barText)));
    } else if (shown.error !== undefined) {
      replaceChildren(row.status, h("div", {}, badge, h("p", { class: "row-error" }, shown.error)));
    } else {
      replaceChildren(row.status, h("div", {}, badge, mark, place));
    }
    replaceChildren(row.actions, h("div", { class: "row-actions" }, ...rowButtons(model, shown, this.#actions)));
  }
}

function setBar(bar: HTMLProgressElement, text: HTMLElement, progress: LiveDownload): void {
  const percent = progress.status === "done" ? 100 : Math.max(0, Math.min(100, progress.percent));
  bar.value = percent;
  bar.setAttribute("aria-valuetext", progress.status === "done" ? "Downloaded" : progressText(progress));
  text.textContent =
    progress.status === "done"
      ? `Downloaded · ${formatBytes(progress.bytes_total)}`
      : progress.status === "queued" && progress.bytes_downloaded === 0
        ? "Waiting for a free download slot"
        : progressText(progress);
}

interface FocusedControl {
  readonly file: string;
  readonly action: string;
}

function focusedControl(root: HTMLElement): FocusedControl | undefined {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !root.contains(active)) return undefined;
  const file = active.closest("tr")?.dataset.file;
  return file === undefined ? undefined : { file, action: active.dataset.action ?? "select" };
}

function restoreFocus(root: HTMLElement, { file, action }: FocusedControl): void {
  const row = root.querySelector<HTMLElement>(`tr[data-file="${CSS.escape(file)}"]`);
  if (!row) return;
  if (action === "select") row.querySelector<HTMLElement>("input")?.focus();
  else focusIn(row, action);
}

/** The button that takes over when one goes: Pause becomes Resume (and back), Download becomes Cancel. */
const SUCCESSOR: Readonly<Record<string, string>> = { pause: "resume", resume: "pause", download: "cancel" };

/**
 * Focuses the enabled control of `action` in `within`, else its successor, else the first enabled button
 * (Move up at the top of the queue is disabled).
 */
function focusIn(within: HTMLElement, action: string): void {
  const enabled = (name: string | undefined) =>
    name === undefined ? null : within.querySelector<HTMLElement>(`[data-action="${CSS.escape(name)}"]:not([disabled])`);
  (enabled(action) ?? enabled(SUCCESSOR[action]) ?? within.querySelector<HTMLElement>("button:not([disabled])"))?.focus();
}
