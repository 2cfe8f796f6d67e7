import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";

/**
 * Replaces `file` so that a reader sees the old content or the new, never a mix: temp file in the same
 * folder, fsync, rename, fsync of the folder. A crash at any instant leaves at worst a stray temp file.
 * `beforeRename` runs once the temp file is durable, as late as can be: a holder of the file's lock checks
 * there that the lock is still its own (lock.ts), and a throw from it leaves the file as it was.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o644,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const temp = tempFileFor(file);
  try {
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await beforeRename?.();
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

const tempPrefix = (file: string): string => `.${path.basename(file)}.`;

/** A fresh temp name for a write of `file`, in its folder: one removeStrayTemps(file) sweeps up after a crash. */
export const tempFileFor = (file: string): string =>
  path.join(path.dirname(file), `${tempPrefix(file)}${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
const TEMP_SUFFIX = /^\d+\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temp files that writes of `file` left when their writer was killed before its rename. Only
 * for a caller that holds the file's lock or is its only writer: nobody else can be writing one now.
 */
export async function removeStrayTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = tempPrefix(file);
  const names = await readdir(dir).catch(() => [] as string[]);
  const strays = names.filter((name) => name.startsWith(prefix) && TEMP_SUFFIX.test(name.slice(prefix.length)));
  await Promise.all(strays.map((name) => rm(path.join(dir, name), { force: true })));
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable; some filesystems (and all of Windows) refuse to fsync a folder.
  const handle = await open(dir, "r").catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // not supported here: the rename is still atomic, only less durable across a power cut
  } finally {
    await handle.close();
  }
}
