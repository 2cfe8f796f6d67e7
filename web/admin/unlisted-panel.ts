/**
 * The "Unlisted files" panel: model files on the volume that no catalog entry points at, what CivitAI says
 * they are once identified (by their SHA256, hashed by the sidecar), and adopting the chosen ones into the
 * catalog where they are.
 */
import { listed } from "./actions";
import type { Api } from "./api";
import { byId, h, replaceChildren } from "./dom";
import { countOf, formatBytes } from "./format";
import { Job, renderJob } from "./jobs";
import { announce, notices } from "./notices";
import type { AdoptResult, JobProgress, UnlistedFile } from "./types";

const identifyWords = (progress: JobProgress): string => {
  const counts = `${progress.hashed} of ${countOf(progress.total, "file")} hashed · ${progress.matched ?? 0} known to CivitAI`;
  if (progress.status === "running") return `Identifying: ${counts}`;
  if (progress.status === "error") return `Identifying failed after ${counts}`;
  return progress.cancelled ? `Identifying cancelled: ${counts}` : `Identified: ${counts}`;
};

/** What is known of a file: CivitAI's name and type, or why there is none yet. */
function matchText(file: UnlistedFile): string {
  const { match } = file;
  if (match) return `CivitAI: ${[match.name, match.type, match.base_model].filter(Boolean).join(" · ")}`;
  return file.sha256 !== null ? "Hashed; CivitAI does not know it" : "Not identified yet";
}

export interface UnlistedContext {
  readonly api: Api;
  signal(): AbortSignal;
  refreshListing(): Promise<void>;
}

export class UnlistedPanel {
  readonly #context: UnlistedContext;
  readonly #root = byId("unlisted");
  readonly #count = byId("unlisted-count");
  readonly #adopt = byId<HTMLButtonElement>("adopt");
  readonly #job: Job;
  #files: readonly UnlistedFile[] = [];
  readonly #selected = new Set<string>();

  constructor(context: UnlistedContext) {
    this.#context = context;
    this.#job = new Job(context.api, "api/admin/models/identify", (progress) => renderJob("identify", "Identifying the unlisted files", progress, identifyWords));
  }

  /** The list as the volume has it now; a selection of files still there is kept. */
  async load(): Promise<void> {
    const { files } = await this.#context.api.call<{ files: UnlistedFile[] }>("GET", "api/admin/models/unlisted");
    this.#files = files;
    const paths = new Set(files.map((file) => file.path));
    for (const path of this.#selected) if (!paths.has(path)) this.#selected.delete(path);
    this.#render();
  }

  /** On a new session: the list, and a run already going (from another tab or the API) followed to its end. */
  async resume(): Promise<void> {
    await this.load();
    const progress = await this.#job.follow(this.#context.signal());
    if (progress.status !== "idle") await this.load();
  }

  async identify(): Promise<void> {
    const progress = await this.#job.start(this.#context.signal());
    await this.load();
    if (progress.status === "error") notices.error(`Identifying failed: ${progress.error ?? "unknown error"}`);
    if (progress.status === "done") announce(identifyWords(progress));
  }

  async cancel(): Promise<void> {
    await this.#job.cancel();
  }

  async adopt(): Promise<void> {
    const files = [...this.#selected];
    if (files.length === 0) return;
    const { added, skipped } = await this.#context.api.call<AdoptResult>("POST", "api/admin/models/adopt", { files });
    const parts = [added.length > 0 ? `Adopted ${added.length}: ${listed(added.map((entry) => entry.name))}` : "Nothing adopted"];
    if (skipped.length > 0) parts.push(`skipped ${skipped.length}: ${listed(skipped.map((entry) => `${entry.path} (${entry.reason})`))}`);
    (added.length > 0 ? notices.info : notices.error)(parts.join("; "));
    for (const entry of added) this.#selected.delete(entry.path);
    await Promise.all([this.#context.refreshListing(), this.load()]);
  }

  #render(): void {
    const files = this.#files;
    const total = files.reduce((sum, file) => sum + file.bytes, 0);
    this.#count.textContent = files.length === 0 ? "Every model file on the volume is in the catalog." : `${countOf(files.length, "file")}, ${formatBytes(total)}`;
    this.renderSelection();
    if (files.length === 0) {
      replaceChildren(this.#root);
      return;
    }
    const boxes: HTMLInputElement[] = [];
    const all = h("input", {
      type: "checkbox",
      onchange: () => {
        for (const [i, file] of files.entries()) {
          if (all.checked) this.#selected.add(file.path);
          else this.#selected.delete(file.path);
          boxes[i]!.checked = all.checked;
        }
        this.renderSelection();
      },
    });
    const syncAll = () => {
      all.checked = this.#selected.size === files.length;
      all.indeterminate = this.#selected.size > 0 && !all.checked;
    };
    const items = files.map((file) => {
      const box = h("input", {
        type: "checkbox",
        "aria-label": `Select ${file.path}`,
        onchange: () => {
          if (box.checked) this.#selected.add(file.path);
          else this.#selected.delete(file.path);
          syncAll();
          this.renderSelection();
        },
      });
      box.checked = this.#selected.has(file.path);
      boxes.push(box);
      return h(
        "li",
        { "data-path": file.path },
        h(
          "label",
          { class: "unlisted-file" },
          box,
          h(
            "span",
            {},
            h("code", { class: "unlisted-path" }, file.path),
            h("span", { class: "unlisted-size" }, formatBytes(file.bytes)),
            h("span", { class: file.match ? "unlisted-match" : "unlisted-match muted" }, matchText(file)),
          ),
        ),
      );
    });
    syncAll();
    replaceChildren(this.#root, h("label", { class: "unlisted-all" }, all, "Select all"), h("ul", { class: "unlisted-files", "aria-label": "Unlisted files" }, ...items));
  }

  /** The Adopt button: how many files it would adopt, and disabled when none. */
  renderSelection(): void {
    const size = this.#selected.size;
    this.#adopt.textContent = size > 0 ? `Adopt selected (${size})` : "Adopt selected";
    this.#adopt.disabled = size === 0;
  }
}
