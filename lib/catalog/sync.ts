import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config";
import { ConflictError, InvalidError, MalformedError, TooLargeError } from "../errors";
import { writeFileAtomic } from "../fs/atomic-write";
import { catalogText, checkGrowth, countEntries, sizeOf } from "./bounds";
import { parseImport } from "./import";
import { usableEntry, type CatalogCategory, type CatalogDocument, type CatalogModel } from "./schema";
import { catalogPath, changeCatalog } from "./store";
import type { Studio } from "./studio";

/** Fields the metadata fetch writes: a local value stays when the remote entry has none. */
const FETCHED_FIELDS = [
  "base_model",
  "trainedWords",
  "civitai_model_id",
  "civitai_version",
  "civitai_type",
  "civitai_tags",
  "lastModified",
  "size_gb",
  "sha256",
] as const;

export const remoteCatalogPath = (config: Pick<Config, "repoDir">): string => path.join(config.repoDir, "catalogs", "models.json");

/** The clone's catalog, checked as strictly as an import; a bad one is a 422 and changes nothing. */
export async function readRemoteCatalog(config: Pick<Config, "repoDir">): Promise<CatalogDocument> {
  const file = remoteCatalogPath(config);
  let text: string;
  try {
    // A repository can commit a link: only a regular file inside the clone is read, never what a link
    // points to (it could be any file this service can read, echoed back in a parse error).
    const [real, root] = await Promise.all([realpath(file), realpath(config.repoDir)]);
    if (!real.startsWith(root + path.sep)) throw new InvalidError("Invalid remote catalog: catalogs/models.json leads outside the clone");
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      if (!(await handle.stat()).isFile()) throw new InvalidError("Invalid remote catalog: catalogs/models.json is not a file");
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ConflictError("No catalog clone yet: check for updates first (POST /api/admin/models/check-updates)");
    }
    if (code === "ELOOP") throw new InvalidError("Invalid remote catalog: catalogs/models.json is a link");
    throw error;
  }
  try {
    return parseImport(text);
  } catch (error) {
    // not JSON, or too big: in the clone's catalog that is the remote catalog being invalid, not the request
    if (error instanceof MalformedError || error instanceof TooLargeError) throw new InvalidError(`Invalid remote catalog: ${error.message}`);
    throw error;
  }
}

// the raw entry (every field as written) when the service can use it at all
const asEntry = (entry: unknown): CatalogModel | undefined =>
  usableEntry(entry).model === undefined ? undefined : (entry as CatalogModel);

/**
 * The remote catalog, merged with what only this pod knows: a remote entry replaces the local one of the
 * same file, keeping the local metadata the remote entry lacks (and a locked name); a local entry tagged
 * "imported" that the remote lacks is kept, in its category.
 */
export function mergeCatalogs(local: CatalogDocument, remote: CatalogDocument): CatalogDocument {
  const localByFile = new Map<string, CatalogModel>();
  for (const category of local.categories) {
    for (const entry of category.models) {
      const model = asEntry(entry);
      if (model && !localByFile.has(model.file)) localByFile.set(model.file, model);
    }
  }
  const merged: CatalogDocument = structuredClone({ ...local, ...remote, categories: remote.categories });
  const remoteFiles = new Set<string>();
  for (const category of merged.categories) {
    for (const entry of category.models as CatalogModel[]) {
      remoteFiles.add(entry.file);
      const mine = localByFile.get(entry.file);
      if (!mine) continue;
      for (const field of FETCHED_FIELDS) {
        if (entry[field] === undefined && mine[field] !== undefined) Object.assign(entry, { [field]: structuredClone(mine[field]) });
      }
      if (mine.name_locked === true) Object.assign(entry, { name: mine.name, name_locked: true });
    }
  }
  for (const category of local.categories) {
    const imported = category.models.filter((entry) => {
      const model = asEntry(entry);
      return model !== undefined && (model.tags ?? []).includes("imported") && !remoteFiles.has(model.file);
    });
    if (imported.length === 0) continue;
    let target: CatalogCategory | undefined = merged.categories.find((c) => c.id === category.id);
    if (!target) merged.categories.push((target = { ...structuredClone(category), models: [] }));
    target.models.push(...structuredClone(imported));
  }
  return merged;
}

export type SyncResult =
  | { status: "updated"; old_version: number; new_version: number; new_date: string }
  | { status: "up_to_date"; version: number };

/**
 * POST /api/admin/models/sync: takes the clone's catalog when its version is higher, merged with the
 * local one. The previous catalog is kept as models.json.bak. Atomic, under the catalog's lock.
 */
export async function syncCatalog(studio: Studio): Promise<SyncResult> {
  const remote = await readRemoteCatalog(studio.config);
  return changeCatalog<SyncResult>(studio, "models", async (local) => {
    const oldVersion = local.document.version ?? 0;
    const newVersion = remote.version ?? 0;
    if (newVersion <= oldVersion) return { result: { status: "up_to_date", version: oldVersion }, changed: false };
    const merged = mergeCatalogs(local.document, remote);
    // refused before the backup is written, so that a refused sync writes nothing (changeCatalog checks too)
    checkGrowth({ models: countEntries(local.document), bytes: local.bytes }, sizeOf(merged));
    await writeFileAtomic(`${catalogPath(studio.config, "models")}.bak`, catalogText(local.document));
    for (const key of Object.keys(local.document)) delete (local.document as Record<string, unknown>)[key];
    Object.assign(local.document, merged);
    return {
      result: { status: "updated", old_version: oldVersion, new_version: newVersion, new_date: remote.date ?? "" },
      changed: true,
    };
  });
}
