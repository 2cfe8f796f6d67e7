/**
 * The SHA256 of a file on the volume, read at disk speed by the sidecar's hash worker thread (the one that
 * hashes downloads, lib/downloads/engine/hasher.ts), so the event loop never spends a cycle on it. It can
 * be cancelled between two reads, and it refuses a file that changed while it was read: that hash would
 * stand for bytes no one has.
 */
import { stat } from "node:fs/promises";
import { PrefixHasher } from "../downloads/engine/hasher";
import type { HashRecord } from "../state/hash-cache";

export class FileChangedError extends Error {}

/** Hashes `file` as it is now; the record to keep in the cache (lib/state/hash-cache.ts). */
export async function hashFile(file: string, signal: AbortSignal): Promise<HashRecord> {
  const before = await stat(file);
  const hasher = new PrefixHasher(file);
  hasher.advance(before.size);
  // a signal of its own: the caller's serves a run of thousands of files, and each would leave a listener on it
  const own = new AbortController();
  const stop = () => own.abort();
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  let sha256: string;
  try {
    sha256 = await hasher.digest(before.size, own.signal);
  } finally {
    signal.removeEventListener("abort", stop);
  }
  const after = await stat(file);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new FileChangedError(`${file} changed while it was hashed`);
  }
  return { bytes: before.size, mtime_ms: before.mtimeMs, sha256, hashed_at: Date.now() };
}

/** Keeps the hash worker thread up for a run of files (see holdHashWorker); call what it returns when done. */
export { holdHashWorker } from "../downloads/engine/hasher";
