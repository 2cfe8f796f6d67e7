/**
 * The "Add a model" box: a CivitAI or Hugging Face link (or an AIR URN) pasted, posted to
 * api/admin/models/add with its download. The folder and category pickers show when the person asks for
 * them, or when the API cannot tell the folder (a 422 asking for `dest`); the same link is then posted
 * again with the choices.
 */
import { ApiError, type Api } from "./api";
import { byId, h, replaceChildren } from "./dom";
import { asksForFolder, folderChoices } from "./folders";
import { notices } from "./notices";
import type { AddResult, Category } from "./types";

// no folder can be "/" (a dest has no empty part): the option that asks for one typed in
const OTHER = "/";

/** The options after the first; unchanged ones are left alone (an open list stays open). */
function setOptions(select: HTMLSelectElement, first: string, options: readonly (readonly [string, string])[]): void {
  const current = select.value;
  const same = options.length === select.options.length - 1 && options.every(([value, label], i) => select.options[i + 1]?.value === value && select.options[i + 1]?.text === label);
  if (same) return;
  replaceChildren(select, h("option", { value: "" }, first), ...options.map(([value, label]) => h("option", { value }, label)));
  select.value = options.some(([value]) => value === current) ? current : "";
}

export interface AddBoxContext {
  readonly api: Api;
  /** Shows the catalog as it now is, and the new model's row in it. */
  refresh(): Promise<void>;
  /** Brings the model's row into view, once the catalog shows it. */
  reveal(file: string): void;
  /** A category's name, for its id. */
  categoryName(id: string): string;
}

export class AddBox {
  readonly #url = byId<HTMLInputElement>("add-url");
  readonly #choose = byId<HTMLInputElement>("add-choose");
  readonly #pickers = byId("add-pickers");
  readonly #dest = byId<HTMLSelectElement>("add-dest");
  readonly #otherField = byId("add-dest-other-field");
  readonly #other = byId<HTMLInputElement>("add-dest-other");
  readonly #category = byId<HTMLSelectElement>("add-category");
  readonly #hint = byId("add-hint");
  readonly #context: AddBoxContext;

  constructor(context: AddBoxContext) {
    this.#context = context;
    this.#choose.addEventListener("change", () => this.#showPickers(this.#choose.checked));
    this.#dest.addEventListener("change", () => {
      this.#otherField.hidden = this.#dest.value !== OTHER;
      if (!this.#otherField.hidden) this.#other.focus();
    });
    this.setCatalog([]);
  }

  /** The pickers' options from the catalog: its folders and the usual ones, its categories. */
  setCatalog(categories: readonly Category[]): void {
    setOptions(this.#dest, "From the model's type", [...folderChoices(categories).map((folder) => [folder, folder] as const), [OTHER, "Another folder…"]]);
    this.#otherField.hidden = this.#dest.value !== OTHER;
    setOptions(this.#category, "The folder's category, or a new one", categories.map((category) => [category.id, category.name] as const));
  }

  /** Posts the link (with the chosen folder and category); a 422 asking for the folder opens the pickers instead of failing. */
  async add(): Promise<void> {
    const url = this.#url.value.trim();
    if (url === "") {
      this.#say("Paste a CivitAI or Hugging Face link first.");
      this.#url.focus();
      return;
    }
    const choice = this.#choice();
    if (choice === undefined) return;
    this.#say(undefined);
    let result: AddResult;
    try {
      result = await this.#context.api.call<AddResult>("POST", "api/admin/models/add", { url, download: true, ...choice });
    } catch (error) {
      if (!(error instanceof ApiError) || !asksForFolder(error.status, error.detail) || choice.dest !== undefined) throw error;
      this.#showPickers(true);
      this.#say(`${error.detail.replace(/[.\s]+$/, "")}. Choose its folder, then add it again.`);
      this.#dest.focus();
      return;
    }
    const { model, category, download } = result;
    const where = `${model.dest}/${model.file}`;
    const then = download === "queued" ? "; downloading it" : download === "present" ? "; its file is already on disk" : "";
    this.#url.value = "";
    try {
      await this.#context.refresh();
    } finally {
      notices.info(`Added ${model.name} (${where}) to ${this.#context.categoryName(category)}${then}`);
    }
    this.#context.reveal(model.file);
  }

  /** The folder and category chosen, when the pickers are shown; undefined (and a word why) when the folder is unusable. */
  #choice(): { dest?: string; category?: string } | undefined {
    if (!this.#choose.checked) return {};
    let dest = this.#dest.value;
    if (dest === OTHER) {
      dest = this.#other.value.trim().replace(/^\/+|\/+$/g, "");
      if (dest === "") {
        this.#say("Type the folder's name (under the models folder), or pick one.");
        this.#other.focus();
        return undefined;
      }
    }
    return { ...(dest !== "" && { dest }), ...(this.#category.value !== "" && { category: this.#category.value }) };
  }

  #showPickers(shown: boolean): void {
    this.#choose.checked = shown;
    this.#pickers.hidden = !shown;
  }

  #say(message: string | undefined): void {
    this.#hint.textContent = message ?? "";
    this.#hint.hidden = message === undefined;
  }
}
