/**
 * The SHA256 of a file on the volume, read at disk speed by the sidecar's hash worker thread (the one that
 * hashes downloads, lib/downloads/engine/hasher.ts), so the event loop never spends a cycle on it. It can
 * be cancelled between two reads, and it refuses a file that changed while it was read: that hash would
 * stand for bytes no one has.
 */
import { stat } from "node:fs/promises";
import { PrefixHasher } from "../downloads/engine/hasher";
import type { HashRecord } from "./hash-cache";

export class FileChangedError extends Error {}

/** Hashes `file` as it is now; the record to keep in the cache (lib/volume/hash-cache.ts). */
export async function hashFile(file: string, signal: AbortSignal): Promise<HashRecord> {
  const before = await stat(file);
  const hasher = new PrefixHasher(file);
  hasher.advance(before.size);
  const sha256 = await hasher.digest(before.size, signal);
  const after = await stat(file);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new FileChangedError(`${file} changed while it was hashed`);
  }
  return { bytes: before.size, mtime_ms: before.mtimeMs, sha256, hashed_at: Date.now() };
}
