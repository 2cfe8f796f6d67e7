/**
 * Never download twice: before the sidecar fetches a model whose catalog entry names its SHA256, it looks
 * in the hash cache (lib/volume/hash-cache.ts) for another file on the volume with those bytes, and puts
 * that one in place instead (link-or-copy.ts). And every finished download's SHA256 goes into the cache,
 * so that the next entry with the same bytes finds it. Whatever goes wrong here, the download goes on as
 * if nothing had been found: this is a shortcut, never a new way to fail.
 */
import { lstat, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config";
import { containedModelPath } from "../catalog/paths";
import type { CatalogModel } from "../catalog/schema";
import { appendActivity } from "../state/activity-log";
import { cacheKey, freshHash, readHashCache, recordHashes, type HashRecord } from "../volume/hash-cache";
import { hashFile } from "../volume/hash-file";
import { CancelledError } from "./engine/errors";
import { linkOrCopy, TargetTakenError, type Placing } from "./link-or-copy";

/**
 * How long a hash is trusted for a link without reading the file again. A record counts only while the
 * file keeps its size and mtime, which rules out every ordinary write; what is left is bit rot and tools
 * that put an mtime back, rare over a day. Reading the file again costs a pass over it at disk speed
 * (seconds for GBs on a local disk, a minute or more on a slow network volume), which would undo the
 * "done within seconds" on every link: so a hash of the last day is taken as it is, an older one is
 * checked first and then dated anew, so a file is read at most once a day however many entries link to
 * it. A copy needs none of this: it is always hashed back from the disk (link-or-copy.ts).
 */
export const TRUST_HASH_MS = 24 * 60 * 60 * 1000;

const SHA256 = /^[0-9a-f]{64}$/;

export interface FromVolume {
  readonly config: Config;
  /** The catalog entry's file name, for the log. */
  readonly file: string;
  /** Its contained path (containedModelPath), where nothing is yet. */
  readonly target: string;
  /** The catalog's SHA256 of it. */
  readonly sha256: string;
  readonly signal: AbortSignal;
  /** The sidecar's log. */
  readonly log: (line: string) => void;
  readonly onBytes?: Placing["onBytes"];
  readonly link?: Placing["link"];
}

/** Where the file came from (its path under the models folder) and how, or "present" when the target turned up meanwhile. */
export type Found = { readonly how: "linked" | "copied"; readonly from: string; readonly bytes: number } | "present";

interface Candidate {
  readonly key: string;
  readonly path: string;
  readonly record: HashRecord;
  readonly sameDevice: boolean;
}

const checkedAt = (record: HashRecord): number => Math.max(record.hashed_at, record.verified_at ?? 0);

/**
 * Puts another file of the volume with the catalog's SHA256 at `job.target`, when there is one whose
 * record is fresh; undefined when there is none, or placing it failed (the caller then downloads).
 */
export async function placeFromVolume(job: FromVolume): Promise<Found | undefined> {
  const want = job.sha256.toLowerCase();
  if (!SHA256.test(want)) return undefined;
  try {
    return await firstThatFits(job, want);
  } catch (error) {
    if (job.signal.aborted) throw new CancelledError();
    job.log(`${job.file}: looking for it on the volume failed (${(error as Error).message}); downloading it`);
    return undefined;
  }
}

async function firstThatFits(job: FromVolume, want: string): Promise<Found | undefined> {
  const { config, signal } = job;
  const dir = path.dirname(job.target);
  await mkdir(dir, { recursive: true });
  for (const candidate of await candidates(job, want, (await stat(dir)).dev)) {
    if (signal.aborted) throw new CancelledError();
    let record = candidate.record;
    // a copy is hashed whatever the source's record says; a link is only as good as the record
    if (candidate.sameDevice && Date.now() - checkedAt(record) > TRUST_HASH_MS) {
      record = await hashFile(candidate.path, signal);
      await recordHashes(config, new Map([[candidate.key, record]]));
      if (record.sha256 !== want) {
        job.log(`${job.file}: ${candidate.key} no longer has the SHA256 it was recorded with; not used`);
        continue;
      }
    }
    try {
      const placed = await linkOrCopy(candidate.path, job.target, { sha256: want, signal, onBytes: job.onBytes, link: job.link });
      // a link's bytes are the source's: its hash is as old as theirs, so that TRUST_HASH_MS still holds
      const kept: HashRecord = placed.hashed ?? { bytes: placed.bytes, mtime_ms: placed.mtimeMs, sha256: want, hashed_at: record.hashed_at };
      const verb = placed.how === "linked" ? "Linked" : "Copied";
      await say(job, `${verb} ${job.file} from ${candidate.key} (already on the volume)`, cacheKey(config.modelsDir, job.target), kept);
      return { how: placed.how, from: candidate.key, bytes: placed.bytes };
    } catch (error) {
      if (signal.aborted) throw new CancelledError();
      if (error instanceof TargetTakenError) return "present";
      job.log(`${job.file}: could not put ${candidate.key} in its place (${(error as Error).message}); downloading it instead`);
      return undefined;
    }
  }
  return undefined;
}

/**
 * The files the cache says have these bytes, still as they were hashed (same size and mtime), regular
 * files reached without leaving the models folder; those on the target's file system (a link) first,
 * then the most recently checked.
 */
async function candidates(job: FromVolume, want: string, device: number): Promise<Candidate[]> {
  const { config } = job;
  const cache = await readHashCache(config).catch((error: Error) => {
    job.log(`${job.file}: the hash cache cannot be read (${error.message}); downloading`);
    return undefined;
  });
  const own = cacheKey(config.modelsDir, job.target);
  const found: Candidate[] = [];
  for (const [key, record] of Object.entries(cache?.files ?? {})) {
    if (record.sha256 !== want || key === own) continue;
    const where = await sourcePath(key, config.modelsDir);
    // lstat: a link at the source's name would be linked as a link, and its target may be anywhere
    const now = where === undefined ? undefined : await lstat(where).catch(() => undefined);
    if (!now?.isFile() || !freshHash(cache!, key, now)) continue;
    found.push({ key, path: where!, record, sameDevice: now.dev === device });
  }
  return found.sort((a, b) => Number(b.sameDevice) - Number(a.sameDevice) || checkedAt(b.record) - checkedAt(a.record));
}

/** The path of a cache key, by the rules of a model's path: never outside the models folder, nor through a link out of it. */
async function sourcePath(key: string, modelsDir: string): Promise<string | undefined> {
  const dest = path.posix.dirname(key);
  return containedModelPath({ dest, file: path.posix.basename(key) }, modelsDir).catch(() => undefined);
}

/** The news, in the sidecar's log and the activity log, and the target's hash in the cache. */
async function say(job: FromVolume, message: string, key: string, record: HashRecord): Promise<void> {
  job.log(message);
  // the file is in place: a failure to record it costs a later dedupe, not this one
  await recordHashes(job.config, new Map([[key, record]])).catch((error: Error) => job.log(`${job.file}: its hash was not recorded: ${error.message}`));
  await appendActivity(job.config, { message, level: "ok" }).catch((error: Error) => job.log(`${job.file}: not in the activity log: ${error.message}`));
}

/**
 * The queued `files` (in queue order) that may start now: one whose catalog SHA256 is that of a `running`
 * one, or of one before it in the queue, waits for those bytes, and once they are in, it links them.
 */
export function notComing(files: readonly string[], models: readonly CatalogModel[], running: readonly string[]): string[] {
  const sha256Of = new Map(models.flatMap((model) => (model.sha256 ? [[model.file, model.sha256.toLowerCase()] as const] : [])));
  const coming = new Set(running.flatMap((file) => sha256Of.get(file) ?? []));
  return files.filter((file) => {
    const sha256 = sha256Of.get(file);
    if (sha256 === undefined) return true;
    if (coming.has(sha256)) return false;
    coming.add(sha256);
    return true;
  });
}

/** A finished download's SHA256 into the cache, by the size and mtime it has at its final name. */
export async function rememberDownload(config: Config, target: string, result: { bytes: number; mtimeMs: number; sha256: string | undefined }): Promise<void> {
  if (result.sha256 === undefined) return;
  const record: HashRecord = { bytes: result.bytes, mtime_ms: result.mtimeMs, sha256: result.sha256, hashed_at: Date.now() };
  await recordHashes(config, new Map([[cacheKey(config.modelsDir, target), record]]));
}
