/**
 * Puts a file that is already on the volume at a model's path instead of downloading it: a hard link when
 * both are on one file system (no byte moves, one inode), else a copy, written to a temp name in the
 * target's folder, synced, hashed back from the disk and only then renamed into place, as a download is.
 * Neither ever replaces what is at the target: a link refuses an existing name by itself, and a copy looks
 * again just before its rename. A cancel stops a copy between two reads and leaves nothing behind.
 */
import { constants, createReadStream } from "node:fs";
import { link as hardLink, lstat, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { entryExists } from "../fs/exists";
import { removeStrayTemps, tempFileFor } from "../fs/atomic-write";
import { writeAll } from "../fs/write-all";
import { hashFile } from "../volume/hash-file";
import type { HashRecord } from "../volume/hash-cache";
import { syncDir } from "./engine/disk";
import { CancelledError } from "./engine/errors";

/** Something is at the target already: it is left as it is. */
export class TargetTakenError extends Error {}

/** The copy's bytes, read back, are not the ones the catalog names: the copy was discarded. */
export class CopyMismatchError extends Error {}

/** Why a link cannot be made here but a copy can: another file system, or one (or a policy) without hard links. */
const COPY_INSTEAD = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS"]);

export interface Placing {
  /** The SHA256 the file must have (lower-case hex). */
  readonly sha256: string;
  readonly signal: AbortSignal;
  /** Bytes placed so far of `total`, as they go (a link calls it once, with the size). */
  readonly onBytes?: ((done: number, total: number) => void) | undefined;
  /** fs.promises.link unless a test puts another in its place. */
  readonly link?: ((existing: string, newPath: string) => Promise<void>) | undefined;
}

export interface Placed {
  readonly how: "linked" | "copied";
  /** What the hash cache records for the target; a link's is the source's own record, re-keyed. */
  readonly bytes: number;
  readonly mtimeMs: number;
  /** A copy's hash, read back from the disk; undefined for a link (its bytes are the source's). */
  readonly hashed?: HashRecord;
}

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Puts `source` at `target` (both regular files' paths, contained in the models folder: the caller's to
 * check), linked when it can be, copied otherwise. Throws TargetTakenError when the target is there,
 * CancelledError on a cancel, and anything else a link or a copy met: the caller downloads instead.
 */
export async function linkOrCopy(source: string, target: string, placing: Placing): Promise<Placed> {
  const link = placing.link ?? hardLink;
  try {
    await link(source, target);
  } catch (error) {
    if (code(error) === "EEXIST") throw new TargetTakenError(`${path.basename(target)} is already there`, { cause: error });
    if (!COPY_INSTEAD.has(code(error) ?? "")) throw error;
    return copy(source, target, placing);
  }
  const [from, made] = await Promise.all([lstat(source), lstat(target)]);
  // the one check a link needs: the name now leads to the very file that was verified
  if (from.ino !== made.ino || from.dev !== made.dev) throw new Error(`${path.basename(target)} is not the file it was linked from`);
  placing.onBytes?.(made.size, made.size);
  await syncDir(path.dirname(target));
  return { how: "linked", bytes: made.size, mtimeMs: made.mtimeMs };
}

async function copy(source: string, target: string, placing: Placing): Promise<Placed> {
  const { signal } = placing;
  // a copy this process did not live to finish left its temp file: this one is the target's only writer now
  await removeStrayTemps(target);
  const temp = tempFileFor(target);
  try {
    const { size } = await lstat(source);
    const out = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      let copied = 0;
      // read at the disk's pace, each chunk written whole before the next is read; a cancel ends the read
      for await (const chunk of createReadStream(source, { highWaterMark: 4 * 1024 * 1024, signal }) as AsyncIterable<Buffer>) {
        await writeAll(out, [chunk], copied);
        copied += chunk.length;
        placing.onBytes?.(copied, size);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    // What is on the disk now, read back, whatever the source's record says: a copy is new bytes, written
    // by this process, and a short read, a bad write or a source that changed under it must not pass.
    const hashed = await hashFile(temp, signal);
    if (hashed.sha256 !== placing.sha256) {
      throw new CopyMismatchError(`the copy's SHA256 is ${hashed.sha256}, not ${placing.sha256}; it was discarded`);
    }
    if (signal.aborted) throw new CancelledError();
    if (await entryExists(target)) throw new TargetTakenError(`${path.basename(target)} is already there`);
    await rename(temp, target);
    await syncDir(path.dirname(target));
    return { how: "copied", bytes: hashed.bytes, mtimeMs: hashed.mtime_ms, hashed };
  } catch (error) {
    await rm(temp, { force: true });
    if (signal.aborted) throw new CancelledError();
    throw error;
  }
}
