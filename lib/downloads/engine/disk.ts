/** The part file on disk: how it is opened, its sizes in words, hashing it, syncing its folder. */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { CancelledError, DownloadError } from "./errors";

// Opened with O_NOFOLLOW: a link planted at `<file>.part` is refused, never written through.
export const PART_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;

/** Sizes as the catalog gives them (GiB, two decimals); under 1 GiB in MiB, where 0.01 GiB says too little. */
export const gib = (bytes: number): string =>
  bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

export function isDiskFull(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if ((e as NodeJS.ErrnoException).code === "ENOSPC") return true;
  return false;
}

/** What a person reads when the disk filled up on the way, with what became of the partial. */
export function diskFullError(cause: unknown, dir: string, done: number, total: number, resumable: boolean): DownloadError {
  const of = total > 0 ? ` of ${gib(total)}` : "";
  const partial = resumable ? "the partial download is kept and resumes when there is room" : "the partial download was removed";
  return new DownloadError(`The disk is full: no room left in ${dir} after ${gib(done)}${of}; ${partial}`, { cause });
}

export async function hashFile(handle: FileHandle, size: number, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let position = 0; position < size; ) {
    if (signal.aborted) throw new CancelledError();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest("hex");
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
