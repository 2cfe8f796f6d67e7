/**
 * POST /api/admin/models/adopt: catalog entries (models.json) for unlisted files, where they are: nothing on
 * the disk moves. Each entry has the file's name, folder and size, its SHA256 when a fresh hash of it is
 * cached, and what CivitAI said of that SHA256 (name, ids, base model, type) when an identify asked; it is
 * tagged "adopted". It goes into the category whose models share its folder, else into a new one named
 * after the folder. A path that is not an unlisted model file is skipped, with the reason.
 */
import type { CatalogCategory } from "../catalog/schema";
import { SafeDest, SafeFileName, sizeGb, usableEntry } from "../catalog/schema";
import { changeCatalog, type LoadedCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { appendActivity } from "../state/activity-log";
import { readHashCache, type HashCache } from "../state/hash-cache";
import { catalogEntries } from "./inventory";
import { files } from "./job";
import { isModelFileName, MODEL_EXTENSIONS, scanVolume, type VolumeFile } from "./scan";
import { knownSha256, matchOf } from "./unlisted";

export interface Adopted {
  path: string;
  name: string;
  file: string;
  dest: string;
  category: string;
}

export interface AdoptAnswer {
  added: Adopted[];
  skipped: { path: string; reason: string }[];
}

/** The catalog entry for `file`, from what the cache knows of it. */
function entryFor(file: VolumeFile, cache: HashCache): Record<string, unknown> {
  const sha256 = knownSha256(cache, file);
  const match = matchOf(cache, sha256);
  return {
    name: match?.name ?? file.file.replace(/\.[^.]+$/, ""),
    file: file.file,
    dest: file.dest,
    ...(match && { source: "civitai" }),
    size_gb: sizeGb(file.bytes),
    tags: ["adopted"],
    ...(match?.base_model !== undefined && { base_model: match.base_model }),
    ...(match && { civitai_model_id: match.civitai_model_id, civitai_version_id: String(match.civitai_version_id) }),
    ...(match?.type !== undefined && { civitai_type: match.type }),
    ...(sha256 !== undefined && { sha256 }),
  };
}

const slug = (dest: string): string =>
  dest
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "") || "models";

/** The category for a model in `dest`: the first whose models share the folder, else the folder's own (made when missing). */
function categoryFor(catalog: LoadedCatalog, dest: string): CatalogCategory {
  const sharing = catalog.document.categories.find((category) => category.models.some((entry) => usableEntry(entry).model?.dest === dest));
  if (sharing) return sharing;
  const id = slug(dest);
  const named = catalog.document.categories.find((category) => category.id === id);
  if (named) return named;
  const made: CatalogCategory = { id, name: dest, models: [] };
  catalog.document.categories.push(made);
  return made;
}

/** Why `path` cannot be adopted when it is not on the volume's list of model files, or undefined when it can. */
function notAFile(path: string): string {
  const name = path.split("/").at(-1) ?? "";
  if (!isModelFileName(name)) return `not a model file (a model file's name ends with ${MODEL_EXTENSIONS.join(", ")})`;
  return "no such model file on the volume";
}

/** Why a file's name or folder cannot stand in a catalog entry, or undefined when both can. */
function unsafeName(file: VolumeFile): string | undefined {
  const problem = SafeFileName.safeParse(file.file).error ?? SafeDest.safeParse(file.dest).error;
  return problem && `its name cannot be a catalog entry's (${problem.issues[0]?.message ?? "unsafe"})`;
}

export async function adoptFiles(studio: Studio, paths: readonly string[]): Promise<AdoptAnswer> {
  // the walk happens before the catalog's lock is taken: on a large volume it takes a while
  const [onVolume, cache] = await Promise.all([scanVolume(studio.config.modelsDir), readHashCache(studio.config)]);
  const byPath = new Map(onVolume.map((file) => [file.path, file]));
  const answer = await changeCatalog(studio, "models", async (catalog) => {
    // both catalogs as they are now, under the lock: what another request added meanwhile counts
    const entries = (await catalogEntries(studio)).filter((entry) => entry.catalog !== "models");
    for (const model of catalog.models) entries.push({ model, catalog: "models", path: `${model.dest}/${model.file}`, full: "" });
    const listedPaths = new Map(entries.map((entry) => [entry.path, entry.catalog]));
    const listedIdentities = new Set(onVolume.filter((file) => listedPaths.has(file.path)).map((file) => file.identity));
    const fileNames = new Map(entries.map((entry) => [entry.model.file, entry]));
    const result: AdoptAnswer = { added: [], skipped: [] };
    const refusal = (path: string, file: VolumeFile | undefined): string | undefined => {
      if (!file) return notAFile(path);
      const listed = listedPaths.get(path);
      if (listed) return `already listed in ${listed}.json`;
      if (listedIdentities.has(file.identity)) return "already listed: a catalog entry points at the same file under another name";
      const sameName = fileNames.get(file.file);
      if (sameName) {
        return `${sameName.catalog}.json already has a model '${file.file}' (in ${sameName.model.dest}); the API finds models by file name: rename one of them first`;
      }
      return unsafeName(file);
    };
    for (const path of paths) {
      const file = byPath.get(path);
      const reason = refusal(path, file);
      if (reason !== undefined || !file) {
        result.skipped.push({ path, reason: reason ?? notAFile(path) });
        continue;
      }
      const entry = entryFor(file, cache);
      const category = categoryFor(catalog, file.dest);
      category.models.push(entry);
      listedPaths.set(path, "models");
      fileNames.set(file.file, { model: usableEntry(entry).model!, catalog: "models", path, full: file.full });
      result.added.push({ path, name: entry.name as string, file: file.file, dest: file.dest, category: category.id });
    }
    return { result, changed: result.added.length > 0 };
  });
  if (answer.added.length > 0) {
    const names = answer.added.map((added) => added.path);
    const shown = names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
    await appendActivity(studio.config, { message: `Adopted ${files(answer.added.length)} into the catalog: ${shown}`, level: "ok" });
  }
  return answer;
}
