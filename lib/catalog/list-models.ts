import type { Stats } from "node:fs";
import { freshHash, HashCacheReader, type HashCache } from "../state/hash-cache";
import { sidecarRunning } from "../state/heartbeat";
import { readSettings } from "../state/settings";
import { queuePositions, readStatus, type DownloadEntry, type Status } from "../state/status";
import { freeBytes, modelPath, presentStats } from "./paths";
import type { CatalogModel } from "./schema";
import { loadCatalog, type LoadedCatalog } from "./store";
import type { Studio } from "./studio";

export type ModelStatus = "present" | "not_downloaded" | "downloading" | "queued" | "paused" | "error";

/** A download in flight says more than the disk; a failed one says less than a file that is there. */
function modelStatus(entry: DownloadEntry | undefined, present: boolean): ModelStatus {
  if (entry?.status === "queued" || entry?.status === "downloading" || entry?.status === "paused") return entry.status;
  if (present) return "present";
  return entry?.status === "error" ? "error" : "not_downloaded";
}

export const damagedMessage = (got: string, want: string): string =>
  `The file is damaged: its SHA256 is ${got}, the catalog says ${want}. Delete it and download it again.`;

/**
 * What the last verify found of a present model's file: absent when no verify read it as it is now (same
 * size and mtime), or when the catalog gives no sha256 to compare with.
 */
function verifiedState(model: CatalogModel, file: Pick<Stats, "size" | "mtimeMs">, cache: HashCache): { verified: boolean; error?: string } | undefined {
  const want = model.sha256?.toLowerCase();
  if (want === undefined) return undefined;
  // the hash cache's key: the path under $MODELS_DIR (dest and file are checked to be plain folders and a name)
  const record = freshHash(cache, `${model.dest}/${model.file}`, { size: file.size, mtimeMs: file.mtimeMs });
  if (record?.verified_at === undefined) return undefined;
  return record.sha256 === want ? { verified: true } : { verified: false, error: damagedMessage(record.sha256, want) };
}

interface Listed {
  readonly categories: object[];
  readonly presentCount: number;
  readonly modelsBytes: number;
}

/** What a process keeps of its listings, in its Studio: each catalog's model paths, and the last listing. */
export class ListingCache {
  // Worked out once per catalog as loaded (the store keeps one while its file is unchanged): resolving
  // 10,000 paths on every GET cost a quarter of the request.
  readonly #targets = new WeakMap<LoadedCatalog, Map<CatalogModel, string>>();
  // The last listing and what it was built from. Between downloads most GETs find the same catalog, files
  // and download states, and then reuse it: checking costs far less than building 10,000 entries again
  // (and their garbage, which made the slowest answers slower still).
  #last: { catalog: LoadedCatalog; key: string; listed: Listed } | undefined;
  // what verifies found (state/hashes.json), read again only when the file changed
  readonly hashes = new HashCacheReader();

  /** Each model of `catalog` with its path under `modelsDir` (always the same one: a Studio has one models folder). */
  targetsOf(catalog: LoadedCatalog, modelsDir: string): Map<CatalogModel, string> {
    let found = this.#targets.get(catalog);
    if (!found) this.#targets.set(catalog, (found = new Map(catalog.models.map((model) => [model, modelPath(model, modelsDir)]))));
    return found;
  }

  /** The last listing when it was built from `catalog` and `key`; else `build`'s, kept as the last. */
  reuse(catalog: LoadedCatalog, key: string, build: () => Listed): Listed {
    if (this.#last?.catalog !== catalog || this.#last.key !== key) this.#last = { catalog, key, listed: build() };
    return this.#last.listed;
  }
}

/** What a listing is built from: the files on disk (size and mtime: a verify's record holds while both do), the downloads, the hash cache. */
function listingKey(
  paths: ReadonlyMap<CatalogModel, string>,
  catalog: LoadedCatalog,
  stats: ReadonlyMap<string, Stats>,
  downloads: Status["downloads"],
  hashes: string,
): string {
  const parts: string[] = [hashes];
  for (const model of catalog.models) {
    const s = stats.get(paths.get(model)!);
    if (s !== undefined) parts.push(`${model.file}:${s.size}:${s.mtimeMs}`);
  }
  for (const [file, entry] of Object.entries(downloads)) parts.push(`${file}=${entry.status}:${entry.seq}:${entry.error ?? ""}`);
  return parts.join("\n");
}

function buildListing(
  paths: ReadonlyMap<CatalogModel, string>,
  catalog: LoadedCatalog,
  stats: ReadonlyMap<string, Stats>,
  downloads: Status["downloads"],
  cache: HashCache,
): Listed {
  const counted = new Set<string>();
  let presentCount = 0;
  let modelsBytes = 0;
  const positions = queuePositions({ downloads });
  const categories = catalog.categories.map(({ category, models }) => ({
    ...category,
    models: models.map((model) => {
      const file = paths.get(model)!;
      const s = stats.get(file);
      const size = s?.size;
      if (size !== undefined) {
        presentCount += 1;
        // two entries naming one file take its space once
        if (!counted.has(file)) modelsBytes += size;
        counted.add(file);
      }
      const entry = downloads[model.file];
      const state = modelStatus(entry, size !== undefined);
      // a damaged file is still there: "present", with the error that says what to do
      const checked = s && state === "present" ? verifiedState(model, s, cache) : undefined;
      const position = positions.get(model.file);
      return {
        ...model,
        status: state,
        on_disk_bytes: size ?? 0,
        ...(state === "error" && { error: entry?.error }),
        ...(position !== undefined && { queue_position: position }),
        ...checked,
      };
    }),
  }));
  return { categories, presentCount, modelsBytes };
}

/** GET /api/admin/models: the models catalog with what is on disk and downloading, and the volume's figures. */
export async function listModels(studio: Studio) {
  const { config, listing } = studio;
  const catalog = await loadCatalog(studio, "models");
  const paths = listing.targetsOf(catalog, config.modelsDir);
  const [stats, free, status, running, hashes, settings] = await Promise.all([
    presentStats([...paths.values()]),
    freeBytes(config.modelsDir),
    readStatus(config),
    sidecarRunning(config.stateDir),
    listing.hashes.read(config),
    readSettings(config),
  ]);
  const active = Object.values(status.downloads);

  const key = listingKey(paths, catalog, stats, status.downloads, hashes.identity);
  const { categories, presentCount, modelsBytes } = listing.reuse(catalog, key, () => buildListing(paths, catalog, stats, status.downloads, hashes.cache));

  return {
    version: catalog.document.version ?? 0,
    date: catalog.document.date ?? "",
    stats: {
      queued_count: active.filter((entry) => entry.status === "queued").length,
      downloading_count: active.filter((entry) => entry.status === "downloading").length,
      fetching_count: Object.values(status.metadata).filter((entry) => entry.status === "fetching_metadata").length,
      present_count: presentCount,
      total_count: catalog.models.length,
      global_speed: active.reduce((sum, entry) => sum + (entry.status === "downloading" ? entry.speed : 0), 0),
      /** The bandwidth cap the global speed is held to; null for none. */
      max_bytes_per_second: settings.max_bytes_per_second,
      models_bytes: modelsBytes,
      free_bytes: free,
      daemon_running: running,
    },
    categories,
  };
}
