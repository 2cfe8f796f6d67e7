/**
 * Hashing a run of the volume's files for identify and verify: one file at a time, on the hash worker thread
 * (kept up for the whole run: starting a thread per file costs more than hashing a small one), a file under
 * two names (a hard link) read once, stopped by an AbortSignal between two reads. The records go to the hash
 * cache in batches: thousands of files are a few dozen writes of state/hashes.json, not one each.
 */
import type { Config } from "../config";
import { CancelledError } from "../downloads/engine/errors";
import { recordHashes, type HashRecord } from "../state/hash-cache";
import { FileChangedError, hashFile, holdHashWorker } from "./hash-file";
import type { VolumeFile } from "./scan";

/**
 * Records are written when this many are waiting, or when the oldest has waited this long: hashes.json of a
 * volume of 10,000 files is a few MB, rewritten whole each time and read again by every listing after.
 */
export const BATCH_RECORDS = 500;
export const BATCH_MS = 5_000;

/** Hash records on their way to the cache: `add` writes a batch when one is due, `flush` what is left. */
export class HashRecorder {
  readonly #config: Pick<Config, "stateDir">;
  readonly #maxRecords: number;
  readonly #maxMs: number;
  #pending = new Map<string, HashRecord>();
  #since = 0;

  constructor(config: Pick<Config, "stateDir">, limits: { records?: number; ms?: number } = {}) {
    this.#config = config;
    this.#maxRecords = limits.records ?? BATCH_RECORDS;
    this.#maxMs = limits.ms ?? BATCH_MS;
  }

  async add(key: string, record: HashRecord): Promise<void> {
    if (this.#pending.size === 0) this.#since = Date.now();
    this.#pending.set(key, record);
    if (this.#pending.size >= this.#maxRecords || Date.now() - this.#since >= this.#maxMs) await this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    await recordHashes(this.#config, batch);
  }
}

/** Why a file was not hashed, in words for the activity log. */
function skipReason(error: unknown): string {
  if (error instanceof FileChangedError) return "it changed while it was read";
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "it is gone";
  if (code === "EACCES" || code === "EPERM") return "it cannot be read (permission denied)";
  return `it could not be read (${(error as Error).message})`;
}

export interface HashRun {
  /** The files' records, under each of their paths, as they are hashed. */
  readonly recorder: HashRecorder;
  readonly signal: AbortSignal;
  /** Dates each record a verify's (`verified_at`): read from the disk on purpose, not taken from the cache. */
  readonly verify?: boolean;
  /** Each file as it is hashed (once per path, a hard link's other names too). */
  onHashed(file: VolumeFile, record: HashRecord): Promise<void>;
  /** A file that could not be hashed: the run goes on without it. */
  onSkipped(file: VolumeFile, reason: string): Promise<void>;
}

/**
 * Hashes `files` in their order; the names of one file (same device and inode, size and mtime) share one
 * read. Resolves when all are done, or when the signal stops the run (whatever was hashed is recorded).
 */
export async function hashEach(files: readonly VolumeFile[], run: HashRun): Promise<void> {
  const groups = new Map<string, VolumeFile[]>();
  for (const file of files) {
    const key = `${file.identity}:${file.bytes}:${file.mtimeMs}`;
    const group = groups.get(key);
    if (group) group.push(file);
    else groups.set(key, [file]);
  }
  const release = holdHashWorker();
  try {
    for (const group of groups.values()) {
      if (run.signal.aborted) break;
      const first = group[0]!;
      let record: HashRecord;
      try {
        record = await hashFile(first.full, run.signal);
      } catch (error) {
        if (error instanceof CancelledError || run.signal.aborted) break;
        for (const file of group) await run.onSkipped(file, skipReason(error));
        continue;
      }
      if (run.verify) record.verified_at = record.hashed_at;
      for (const file of group) {
        await run.recorder.add(file.path, record);
        await run.onHashed(file, record);
      }
    }
  } finally {
    release();
    await run.recorder.flush();
  }
}
