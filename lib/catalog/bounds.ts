/**
 * How far a catalog may grow. Every process that reads it parses it whole (each Lambda function on its
 * cold start, each serverless-offline worker, the sidecar), and a change holds it twice (the document
 * and its text): past these bounds a 512 MB function would run out of memory, for every request.
 * 100,000 models shaped like the shipped ones take about 53 MB as written (100,000 of `npm run load`'s
 * 49 MB), so the byte bound leaves room for the metadata a fetch adds to them: neither bound is reached
 * before the other by an ordinary catalog. A catalog already past a bound (written by hand) is still
 * read, and may shrink; it only may not grow.
 */
import { InvalidError } from "../errors";
import type { CatalogDocument } from "./schema";

export const MAX_CATALOG_MODELS = 100_000;
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024;

export interface CatalogSize {
  /** Entries of every category, usable or not: each one is in the file and parsed. */
  readonly models: number;
  /** As written: pretty-printed UTF-8. */
  readonly bytes: number;
}

/** The text a catalog is written as (two-space indent, a final newline, as people edit it). */
export const catalogText = (document: CatalogDocument): string => `${JSON.stringify(document, null, 2)}\n`;

export const countEntries = (document: CatalogDocument): number =>
  document.categories.reduce((count, category) => count + category.models.length, 0);

export const sizeOf = (document: CatalogDocument, text = catalogText(document)): CatalogSize => ({
  models: countEntries(document),
  bytes: Buffer.byteLength(text),
});

const count = (n: number): string => n.toLocaleString("en-US");
const mb = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/**
 * Refuses a change that takes the catalog from `before` past a bound, as invalid for both bounds: the
 * request is well-formed, and what it asks for does not fit in the catalog; "too large" stays the answer
 * for a request body over its limit (send less at once), which is not what helps here.
 */
export function checkGrowth(before: CatalogSize, after: CatalogSize): void {
  if (after.models > MAX_CATALOG_MODELS && after.models > before.models) {
    throw new InvalidError(
      `The catalog would hold ${count(after.models)} models; the limit is ${count(MAX_CATALOG_MODELS)} ` +
        `(it holds ${count(before.models)} now). Remove models from it before adding more`,
    );
  }
  if (after.bytes > MAX_CATALOG_BYTES && after.bytes > before.bytes) {
    throw new InvalidError(
      `The catalog would be ${mb(after.bytes)}; the limit is ${mb(MAX_CATALOG_BYTES)} ` +
        `(it is ${mb(before.bytes)} now). Remove models from it before adding more`,
    );
  }
}
