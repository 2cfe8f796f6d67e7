/** The part file on disk: how it is opened, its sizes in words, syncing its folder. */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { DownloadError } from "./errors";

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

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
