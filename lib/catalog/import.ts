import { InvalidError, MalformedError, TooLargeError, type ValidationIssue } from "../errors";
import { toValidationIssue } from "../issues";
import { CatalogDocument, CatalogModel, type CatalogCategory } from "./schema";
import { changeCatalog } from "./store";
import type { Studio } from "./studio";

export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;
export const IMPORTED_TAG = "imported";

export interface ImportResult {
  added: string[];
  skipped: string[];
  total_added: number;
}

/** Parses and checks an uploaded catalog: every problem in it is reported at once, or none. */
export function parseImport(content: Buffer | string): CatalogDocument {
  const size = typeof content === "string" ? Buffer.byteLength(content) : content.length;
  if (size > MAX_IMPORT_BYTES) throw new TooLargeError(`Import file is ${size} bytes; the limit is 10 MB`);
  // Editors on Windows like to start JSON with a byte-order mark, which JSON.parse refuses.
  const text = (typeof content === "string" ? content : content.toString("utf8")).replace(/^\uFEFF/, "");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MalformedError(`Invalid JSON: ${(error as Error).message}`);
  }
  const issues: ValidationIssue[] = [];
  const document = CatalogDocument.safeParse(json);
  if (!document.success) issues.push(...document.error.issues.map((issue) => toValidationIssue(issue, ["file"])));
  // Entries are checked even when the document around them is not right, so one upload shows every problem.
  const categories: unknown[] = Array.isArray((json as { categories?: unknown } | null)?.categories)
    ? (json as { categories: unknown[] }).categories
    : [];
  categories.forEach((category, c) => {
    const models = (category as { models?: unknown } | null)?.models;
    if (!Array.isArray(models)) return;
    models.forEach((entry, m) => {
      const model = CatalogModel.safeParse(entry);
      if (!model.success) {
        const prefix = ["file", "categories", c, "models", m];
        issues.push(...model.error.issues.map((issue) => toValidationIssue(issue, prefix)));
      }
    });
  });
  if (issues.length > 0 || !document.success) throw new InvalidError(issues);
  return document.data;
}

const withImportedTag = (entry: CatalogModel): CatalogModel => {
  const tags = entry.tags ?? [];
  return { ...entry, tags: tags.includes(IMPORTED_TAG) ? tags : [...tags, IMPORTED_TAG] };
};

/**
 * POST /api/admin/models/import: new models join their category (created when missing) tagged
 * "imported"; a filename the catalog already has, anywhere, is skipped and left as it was.
 */
export async function importModels(studio: Studio, content: Buffer | string): Promise<ImportResult> {
  const incoming = parseImport(content);
  return changeCatalog(studio, "models", (catalog) => {
    const categories = catalog.document.categories;
    const known = new Set(
      categories.flatMap((category) => category.models.map((entry) => (entry as { file?: unknown } | null)?.file)),
    );
    const added: string[] = [];
    const skipped: string[] = [];
    for (const { models, ...fields } of incoming.categories) {
      let target: CatalogCategory | undefined = categories.find((category) => category.id === fields.id);
      for (const entry of models as CatalogModel[]) {
        if (known.has(entry.file)) {
          skipped.push(entry.file);
          continue;
        }
        if (!target) categories.push((target = { ...fields, name: fields.name ?? fields.id, models: [] }));
        target.models.push(withImportedTag(entry));
        known.add(entry.file);
        added.push(entry.file);
      }
    }
    return { result: { added, skipped, total_added: added.length }, changed: added.length > 0 };
  });
}
