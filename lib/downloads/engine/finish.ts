/** The end of a download: size, content and checksum checked, data synced, then the one rename that makes the model appear. */
import type { FileHandle } from "node:fs/promises";
import { rename } from "node:fs/promises";
import path from "node:path";
import { partPath, removePartial } from "../../catalog/partial";
import { syncDir } from "./disk";
import { CancelledError, DownloadError } from "./errors";
import type { PrefixHasher } from "./hasher";
import type { DownloadResult } from "./job";
import { looksLikeHtml } from "./probe";

export interface Finishing {
  readonly target: string;
  readonly size: number;
  readonly resumedFrom: number;
  /** The SHA256 to check against, when known. */
  readonly expected: string | undefined;
  /** The SHA256 of the part, which has followed it as it was written. */
  readonly hasher: PrefixHasher;
  /** The source as a person reads it, for the "HTML page" error. */
  readonly label: string;
  readonly signal: AbortSignal;
}

export async function finish(handle: FileHandle, f: Finishing): Promise<DownloadResult> {
  const stat = await handle.stat();
  if (stat.size !== f.size) {
    throw new DownloadError(`Size mismatch: expected ${f.size} bytes, found ${stat.size}`, { restart: true });
  }
  const head = Buffer.alloc(256);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  if (looksLikeHtml(undefined, head.subarray(0, bytesRead))) {
    await removePartial(f.target);
    throw new DownloadError(`Got an HTML page instead of the model from ${f.label} (a login or error page?)`);
  }
  // the last of the hash and the last of the data on its way to disk, at once
  const [actual] = await Promise.all([f.hasher.digest(f.size, f.signal), handle.datasync()]);
  if (f.expected !== undefined && actual !== f.expected) {
    await removePartial(f.target);
    throw new DownloadError(`Checksum mismatch: expected SHA256 ${f.expected}, got ${actual}; the download was discarded`);
  }
  // a cancel that arrived while the data was synced wins: the file never appears
  if (f.signal.aborted) throw new CancelledError();
  await rename(partPath(f.target), f.target);
  // the file as it stands at its final name (a rename keeps the mtime): what the hash cache records it by
  const { mtimeMs } = await handle.stat();
  await removePartial(f.target);
  await syncDir(path.dirname(f.target));
  return { bytes: f.size, resumedFrom: f.resumedFrom, sha256: actual, verified: f.expected !== undefined, mtimeMs };
}
