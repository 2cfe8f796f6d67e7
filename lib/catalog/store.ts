import { stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config";
import { BrokenStateError, modelNotFound } from "../errors";
import { withFileLock } from "../fs/lock";
import { readTextIfExists } from "../fs/read-text";
import { formatIssue } from "../issues";
import { catalogText, checkGrowth, countEntries, sizeOf, type CatalogSize } from "./bounds";
import { CatalogDocument, emptyCatalog, usableEntry, type CatalogCategory, type CatalogModel } from "./schema";
import type { Studio } from "./studio";

export type CatalogName = "models" | "loras";
export const CATALOG_NAMES: readonly CatalogName[] = ["models", "loras"];

export interface LoadedCategory {
  readonly category: CatalogCategory;
  /** The entries that are safe to use; invalid ones stay in the document, untouched and unseen. */
  readonly models: CatalogModel[];
}

export interface LoadedCatalog {
  readonly path: string;
  /** The document as it is on disk, every unknown field and invalid entry included. */
  readonly document: CatalogDocument;
  readonly categories: LoadedCategory[];
  readonly models: CatalogModel[];
  /** The size of the text it was read from. */
  readonly bytes: number;
}

export const catalogPath = (config: Pick<Config, "catalogsDir">, name: CatalogName): string => path.join(config.catalogsDir, `${name}.json`);

/** Parses a catalog's text; a file that is not a catalog is an error that names it and is never overwritten. */
export function parseCatalog(file: string, text: string): LoadedCatalog {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BrokenStateError(
      `Catalog ${file} is not valid JSON (${(error as Error).message}); fix or replace it, it is never overwritten`,
    );
  }
  const parsed = CatalogDocument.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(formatIssue).join("; ");
    throw new BrokenStateError(`Catalog ${file} is not a catalog (${problems}); fix or replace it, it is never overwritten`);
  }
  const document = parsed.data;
  const categories = document.categories.map((category, c) => ({
    category,
    models: category.models.flatMap((entry, m) => {
      const model = usableEntry(entry);
      if (model.problems.length > 0) {
        const entryFile = (entry as { file?: unknown } | null)?.file;
        const named = typeof entryFile === "string" ? ` (${JSON.stringify(entryFile)})` : "";
        const what = model.model ? "ignoring some fields of" : "skipping";
        console.warn(`catalog ${file}: ${what} categories[${c}].models[${m}]${named}: ${model.problems.join("; ")}`);
      }
      return model.model ? [model.model] : [];
    }),
  }));
  return { path: file, document, categories, models: categories.flatMap((c) => c.models), bytes: Buffer.byteLength(text) };
}

async function readCatalogFile(file: string): Promise<LoadedCatalog> {
  return parseCatalog(file, (await readTextIfExists(file)) ?? JSON.stringify(emptyCatalog()));
}

/**
 * The catalogs as last parsed, each kept while its file keeps its identity (inode, ctime, size): catalogs
 * are replaced by rename, so a new version always has a new one. Re-parsing a 10,000-model catalog on every
 * GET would cost more than the rest of the request. One per process, in its Studio.
 */
export class CatalogCache {
  readonly #byFile = new Map<string, { identity: string; loaded: LoadedCatalog }>();

  /** The catalog parsed from `file` when the file still has `identity`. */
  get(file: string, identity: string): LoadedCatalog | undefined {
    const hit = this.#byFile.get(file);
    return hit?.identity === identity ? hit.loaded : undefined;
  }

  set(file: string, identity: string, loaded: LoadedCatalog): void {
    this.#byFile.set(file, { identity, loaded });
  }
}

async function fileIdentity(file: string): Promise<string | undefined> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The catalog as it is now, for reading. Do not mutate what it returns: use `changeCatalog`. */
export async function loadCatalog({ config, catalogs }: Studio, name: CatalogName): Promise<LoadedCatalog> {
  const file = catalogPath(config, name);
  const identity = await fileIdentity(file);
  const hit = identity === undefined ? undefined : catalogs.get(file, identity);
  if (hit) return hit;
  const loaded = await readCatalogFile(file);
  if (identity !== undefined) catalogs.set(file, identity, loaded);
  return loaded;
}

export interface CatalogChange<R> {
  readonly result: R;
  /** False when nothing changed: the file is then left as it is. */
  readonly changed: boolean;
}

/**
 * Read-modify-write of one catalog under its lock: `change` sees the current document, may mutate it
 * in place, and says whether it did. Two concurrent changes both take effect. A change that stalled until
 * its lock was taken over runs again on a fresh read (withFileLock), so `change` must not have effects
 * that a second run would repeat; after a few such losses the request is a 503.
 */
export async function changeCatalog<R>(
  { config }: Studio,
  name: CatalogName,
  change: (catalog: LoadedCatalog) => CatalogChange<R> | Promise<CatalogChange<R>>,
): Promise<R> {
  const file = catalogPath(config, name);
  return withFileLock(file, async (lease) => {
    const catalog = await readCatalogFile(file);
    const before: CatalogSize = { models: countEntries(catalog.document), bytes: catalog.bytes };
    const { result, changed } = await change(catalog);
    if (changed) {
      const text = catalogText(catalog.document);
      // every change that grows the catalog, whoever makes it: past a bound nothing is written
      checkGrowth(before, sizeOf(catalog.document, text));
      await lease.write(text);
    }
    return result;
  });
}

/**
 * Runs `work` holding the catalog's lock without changing the catalog: what `work` reads of it stays
 * true until it is done, so a decision taken from the catalog (the model exists: queue it) cannot be
 * overtaken by a removal. Lock order: a catalog's lock first, then the status file's, never the reverse.
 */
export async function whileCatalogSteady<R>({ config }: Studio, name: CatalogName, work: () => Promise<R>): Promise<R> {
  return withFileLock(catalogPath(config, name), work);
}

/** The models catalog's entry for `file`, matched exactly, or a 404 in the reference's words. */
export async function findModel(studio: Studio, file: string): Promise<CatalogModel> {
  const model = (await loadCatalog(studio, "models")).models.find((entry) => entry.file === file);
  if (!model) throw modelNotFound(file);
  return model;
}
