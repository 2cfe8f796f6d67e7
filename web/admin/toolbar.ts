import { byId, h, replaceChildren } from "./dom";
import { allTags, NO_FILTERS, type Filters, type StatusFilter } from "./filter";
import type { Category } from "./types";

/** The search box and the filters: their values as Filters, and their options from the catalog. */
export class Toolbar {
  readonly #query = byId<HTMLInputElement>("filter-query");
  readonly #status = byId<HTMLSelectElement>("filter-status");
  readonly #category = byId<HTMLSelectElement>("filter-category");
  readonly #tag = byId<HTMLSelectElement>("filter-tag");

  constructor(onChange: () => void) {
    let typing: number | undefined;
    this.#query.addEventListener("input", () => {
      // a 5,000-model catalog is filtered per keystroke pause, not per keystroke
      clearTimeout(typing);
      typing = window.setTimeout(onChange, 120);
    });
    for (const select of [this.#status, this.#category, this.#tag]) select.addEventListener("change", onChange);
    byId("clear-filters").addEventListener("click", () => {
      this.#set(NO_FILTERS);
      onChange();
      this.#query.focus();
    });
    // "/" goes to the search box, as on most sites with one
    document.addEventListener("keydown", (event) => {
      const target = event.target as HTMLElement;
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || target.closest("input, select, textarea, dialog")) return;
      event.preventDefault();
      this.#query.focus();
    });
  }

  get filters(): Filters {
    return {
      query: this.#query.value,
      status: this.#status.value as StatusFilter,
      category: this.#category.value,
      tag: this.#tag.value,
    };
  }

  /** Options for the catalog's categories and tags; a chosen one that is gone falls back to "All". */
  setOptions(categories: readonly Category[]): void {
    fill(this.#category, categories.map((category) => [category.id, category.name] as const));
    fill(this.#tag, allTags(categories).map((tag) => [tag, tag] as const));
  }

  #set(filters: Filters): void {
    this.#query.value = filters.query;
    this.#status.value = filters.status;
    this.#category.value = filters.category;
    this.#tag.value = filters.tag;
  }
}

function fill(select: HTMLSelectElement, options: readonly (readonly [string, string])[]): void {
  const current = select.value;
  const same = options.length === select.options.length - 1 && options.every(([value, label], i) => {
    const option = select.options[i + 1];
    return option?.value === value && option.text === label;
  });
  if (same) return;
  replaceChildren(select, h("option", { value: "" }, "All"), ...options.map(([value, label]) => h("option", { value }, label)));
  select.value = options.some(([value]) => value === current) ? current : "";
}
