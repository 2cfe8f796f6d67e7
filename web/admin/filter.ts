import type { Category, Model, ModelStatus } from "./types";

/** The catalog's search box and filters. "active" is queued, downloading or paused: all mean "on its way". */
export type StatusFilter = "" | "present" | "not_downloaded" | "active" | "error" | "damaged";

export interface Filters {
  readonly query: string;
  readonly status: StatusFilter;
  /** A category id, or "" for all. */
  readonly category: string;
  /** A tag, or "" for all. */
  readonly tag: string;
}

export const NO_FILTERS: Filters = { query: "", status: "", category: "", tag: "" };

export const tagsOf = (model: Pick<Model, "tags">): readonly string[] =>
  Array.isArray(model.tags) ? model.tags.filter((tag): tag is string => typeof tag === "string") : [];

/** "damaged" is a file on disk that a verify found is not the catalog's (it stays "present"). */
function statusMatches(wanted: StatusFilter, status: ModelStatus, model: Model): boolean {
  if (wanted === "active") return status === "queued" || status === "downloading" || status === "paused";
  if (wanted === "damaged") return status === "present" && model.verified === false;
  return wanted === "" || wanted === status;
}

/** Every word of the query must appear in the name, file, base model, folder or a tag, in any case. */
function queryMatches(query: string, model: Model): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [model.name, model.file, model.base_model ?? "", model.dest, ...tagsOf(model)].join("\n").toLowerCase();
  return words.every((word) => haystack.includes(word));
}

/** The categories with only their matching models; a category left empty is left out. */
export function filterCatalog(
  categories: readonly Category[],
  filters: Filters,
  statusOf: (model: Model) => ModelStatus = (model) => model.status,
): Category[] {
  return categories
    .filter((category) => filters.category === "" || category.id === filters.category)
    .map((category) => ({
      ...category,
      models: category.models.filter(
        (model) =>
          statusMatches(filters.status, statusOf(model), model) &&
          (filters.tag === "" || tagsOf(model).includes(filters.tag)) &&
          queryMatches(filters.query, model),
      ),
    }))
    .filter((category) => category.models.length > 0);
}

/** Every tag of the catalog once, in alphabetical order, for the tag filter. */
export const allTags = (categories: readonly Category[]): string[] =>
  [...new Set(categories.flatMap((category) => category.models.flatMap((model) => tagsOf(model))))].sort((a, b) => a.localeCompare(b));

export const isFiltered = (filters: Filters): boolean =>
  filters.query.trim() !== "" || filters.status !== "" || filters.category !== "" || filters.tag !== "";
