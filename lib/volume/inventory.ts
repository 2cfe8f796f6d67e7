/**
 * The volume's files against the catalogs: which files no entry of either catalog points at (unlisted), and
 * which catalog entries have their file on disk. A file counts as listed when an entry names its path, or
 * names another path to the same file (a hard link, a link to it): those bytes are the catalog's already.
 */
import { modelPath, presentStats } from "../catalog/paths";
import type { CatalogModel } from "../catalog/schema";
import { CATALOG_NAMES, loadCatalog, type CatalogName } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { cacheKey } from "../state/hash-cache";
import { identityOf, scanVolume, type VolumeFile } from "./scan";

/** A catalog entry whose file is on disk. */
export interface CatalogFile extends VolumeFile {
  readonly model: CatalogModel;
  readonly catalog: CatalogName;
}

/** Both catalogs' entries, with the path under $MODELS_DIR of each (the hash cache's key). */
export async function catalogEntries(studio: Studio): Promise<{ model: CatalogModel; catalog: CatalogName; path: string; full: string }[]> {
  const { modelsDir } = studio.config;
  const entries = [];
  for (const catalog of CATALOG_NAMES) {
    for (const model of (await loadCatalog(studio, catalog)).models) {
      const full = modelPath(model, modelsDir);
      entries.push({ model, catalog, path: cacheKey(modelsDir, full), full });
    }
  }
  return entries;
}

/** The entries of both catalogs whose file is on disk (links followed), in catalog order. */
export async function presentCatalogFiles(studio: Studio): Promise<CatalogFile[]> {
  const entries = await catalogEntries(studio);
  const stats = await presentStats(entries.map((entry) => entry.full));
  return entries.flatMap(({ model, catalog, path, full }) => {
    const s = stats.get(full);
    if (!s) return [];
    return [{ model, catalog, path, full, dest: model.dest, file: model.file, bytes: s.size, mtimeMs: s.mtimeMs, identity: identityOf(s) }];
  });
}

/** The model files on the volume that no entry of either catalog points at, sorted by path. */
export async function unlistedVolumeFiles(studio: Studio): Promise<VolumeFile[]> {
  const [files, entries] = await Promise.all([scanVolume(studio.config.modelsDir), catalogEntries(studio)]);
  const named = new Set(entries.map((entry) => entry.path));
  const listed = new Set(files.filter((file) => named.has(file.path)).map((file) => file.identity));
  return files.filter((file) => !named.has(file.path) && !listed.has(file.identity));
}
