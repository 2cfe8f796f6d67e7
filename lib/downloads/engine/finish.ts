/** The end of a download: size, content and checksum checked, data synced, then the one rename that makes the model appear. */
import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { rename } from "node:fs/promises";
import path from "node:path";
import { partPath, removePartial } from "../../catalog/partial";
import { hashFile, syncDir } from "./disk";
import { CancelledError, DownloadError } from "./errors";
import type { DownloadResult } from "./job";
import { looksLikeHtml } from "./probe";

export interface Finishing {
  readonly target: string;
  readonly size: number;
  readonly resumedFrom: number;
  /** The SHA256 to check against, when known. */
  readonly expected: string | undefined;
  /** The hash of a download that was one stream, already fed every byte; else the part is read again. */
  readonly inlineHash: Hash | undefined;
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
  let actual: string | undefined;
  if (f.expected !== undefined) {
    actual = f.inlineHash ? f.inlineHash.digest("hex") : await hashFile(handle, f.size, f.signal);
    if (actual !== f.expected) {
      await removePartial(f.target);
      throw new DownloadError(`Checksum mismatch: expected SHA256 ${f.expected}, got ${actual}; the download was discarded`);
    }
  }
  await handle.datasync();
  // a cancel that arrived while the data was synced wins: the file never appears
  if (f.signal.aborted) throw new CancelledError();
  await rename(partPath(f.target), f.target);
  await removePartial(f.target);
  await syncDir(path.dirname(f.target));
  return { bytes: f.size, resumedFrom: f.resumedFrom, sha256: actual, verified: actual !== undefined };
}
