/**
 * What the sidecar knows of the volume's files: `$STUDIO_DIR/state/hashes.json`, each file's SHA256 keyed by
 * its path under `$MODELS_DIR` with the size and mtime it had when hashed, so a file is never hashed twice
 * while it is unchanged (identify, verify and downloads all record here); and what CivitAI said of each
 * SHA256 (a match, or null for "not a CivitAI file"). Handlers only read it; the sidecar writes it under
 * the state lock (lib/state/json-state.ts), as it does the status file.
 *
 * A hash stands for the bytes only while the size and mtime are those recorded: `freshHash` checks both.
 * A verify re-reads a file whatever the cache says (bit rot changes neither) and dates the hash
 * `verified_at`: the listing's `verified` comes from such a hash only.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Config } from "../config";
import { JsonState } from "./json-state";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const HashRecord = z.looseObject({
  bytes: z.number().int().nonnegative(),
  mtime_ms: z.number(),
  sha256: Sha256,
  hashed_at: z.number(),
  /** Set when a verify hashed it (read from the disk on purpose, not taken from the cache). */
  verified_at: z.number().optional(),
});
export type HashRecord = z.infer<typeof HashRecord>;

/** What CivitAI's by-hash said a file is. */
export const CivitaiMatch = z.looseObject({
  civitai_version_id: z.number(),
  civitai_model_id: z.number(),
  name: z.string(),
  type: z.string().optional(),
  base_model: z.string().optional(),
  /** The name CivitAI gives the file of this SHA256 (the version's primary file's when it lists none of it). */
  file: z.string().optional(),
});
export type CivitaiMatch = z.infer<typeof CivitaiMatch>;

const MatchRecord = z.looseObject({ match: CivitaiMatch.nullable(), checked_at: z.number() });

export const HashCache = z.looseObject({
  /** Keyed by the path under $MODELS_DIR, with '/' between folders ("loras/x.safetensors"). */
  files: z.record(z.string(), HashRecord).default({}),
  /** Keyed by SHA256: what CivitAI answered (null: it knows no such file), and when it was asked. */
  matches: z.record(Sha256, MatchRecord).default({}),
});
export type HashCache = z.infer<typeof HashCache>;

const empty = (): HashCache => ({ files: {}, matches: {} });

/** One bad record costs that record, not what is known of every other file. */
function salvage(json: unknown): HashCache | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const { files, matches } = json as Record<string, unknown>;
  const good = <T>(schema: z.ZodType<T>, value: unknown): Record<string, T> =>
    Object.fromEntries(
      Object.entries(typeof value === "object" && value !== null ? value : {}).flatMap(([key, entry]) => {
        const parsed = schema.safeParse(entry);
        return parsed.success ? [[key, parsed.data] as const] : [];
      }),
    );
  return { files: good(HashRecord, files), matches: good(MatchRecord, matches) };
}

export const hashCachePath = (config: Pick<Config, "stateDir">): string => path.join(config.stateDir, "hashes.json");

const cacheFile = (config: Pick<Config, "stateDir">) => new JsonState(hashCachePath(config), HashCache, empty, salvage);

/** The cache as it is now (no lock: it is only ever replaced whole). */
export const readHashCache = (config: Pick<Config, "stateDir">): Promise<HashCache> => cacheFile(config).read();

/** Read-modify-write under the cache's lock; `change` says whether it changed anything. */
export const updateHashCache = <R>(config: Pick<Config, "stateDir">, change: (cache: HashCache, now: number) => { result: R; changed: boolean }): Promise<R> =>
  cacheFile(config).update(change);

/** The key of a file: its path under `modelsDir`, '/' between folders. */
export const cacheKey = (modelsDir: string, file: string): string => path.relative(path.resolve(modelsDir), file).split(path.sep).join("/");

/** The recorded hash of a file when its size and mtime are still the ones it was hashed with. */
export function freshHash(cache: HashCache, key: string, stat: { size: number; mtimeMs: number }): HashRecord | undefined {
  const record = cache.files[key];
  return record && record.bytes === stat.size && record.mtime_ms === stat.mtimeMs ? record : undefined;
}

/** Records hashes (several at once: one write for a batch, not one per file). */
export function recordHashes(config: Pick<Config, "stateDir">, records: ReadonlyMap<string, HashRecord>): Promise<void> {
  if (records.size === 0) return Promise.resolve();
  return updateHashCache(config, (cache) => {
    for (const [key, record] of records) cache.files[key] = record;
    return { result: undefined, changed: true };
  });
}

/** The cache file's identity: a new version of it (it is replaced by a rename) always has a new one. */
async function fileIdentity(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "none";
    throw error;
  }
}

/**
 * The cache as a process last read it, read again only when the file changed: the listing looks at it on
 * every GET, and parsing the records of 10,000 files each time would cost more than the rest of the answer.
 * One per process (the listing's, in its Studio).
 */
export class HashCacheReader {
  #last: { identity: string; cache: HashCache } | undefined;

  /** The cache, and the identity of the file it was read from (part of what a listing is built from). */
  async read(config: Pick<Config, "stateDir">): Promise<{ identity: string; cache: HashCache }> {
    const identity = await fileIdentity(hashCachePath(config));
    // read after the stat: a file replaced in between is read the next time too, never missed
    if (this.#last?.identity !== identity) this.#last = { identity, cache: await readHashCache(config) };
    return this.#last;
  }
}
