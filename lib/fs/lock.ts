/**
 * One exclusive lock per shared file, safe on NFS/EFS: proper-lockfile makes `<file>.lock` with mkdir
 * (atomic there too) and keeps its mtime fresh while held. A holder killed with SIGKILL stops refreshing
 * it, so after STALE_MS any waiter takes the lock over: nobody is blocked for more than a few seconds.
 * The holder also clears the temp files that a writer of the file killed before its rename left.
 *
 * A holder that only stalled (a slow Lambda, EFS latency, SIGSTOP) past STALE_MS has lost its lock the
 * same way, and must not write: it would replace the change of the process that took the lock over. So
 * the file is written only through the Lease, which checks right before its rename that the lock folder
 * is still ours and was renewed less than STALE_MS - COMMIT_MARGIN_MS ago (lock-ownership.ts). A change
 * whose lock was lost is made again from a fresh read under a fresh lock; after ATTEMPTS, a BusyError.
 *
 * A check and then a rename are two steps, and a holder could stall between them. Two things cover that:
 * - the margin: at the check, nobody may take the lock over for COMMIT_MARGIN_MS yet, so the stall would
 *   have to fall in the microseconds between a stat and a rename and last more than 2 s;
 * - the temp file is written before the check, and a taker removes every temp file of the file as soon as
 *   it holds the lock, before it reads. So if the stalled rename comes after that, it fails (no temp file:
 *   nothing written, the change is made again); if it comes before, the taker reads the file with it.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import { BusyError } from "../errors";
import { removeStrayTemps, writeFileAtomic } from "./atomic-write";
import { LockLostError, LockOwnership } from "./lock-ownership";

export const STALE_MS = 5_000;
const UPDATE_MS = 1_000;
const COMMIT_MARGIN_MS = 2_000;
const ATTEMPTS = 3;

// Waiters poll for about 15 s in all: longer than a stale lock lives, so a dead holder never fails them.
const RETRIES = { retries: 80, factor: 1.25, minTimeout: 10, maxTimeout: 200, randomize: true };

/** What a holder writes its file with. */
export interface Lease {
  /** Replaces the locked file atomically, if the lock is still ours at the rename; else throws LockLostError. */
  write(data: string | Uint8Array): Promise<void>;
}

/**
 * Runs `work` holding `file`'s lock. `work` may run again (from the start, under a new lock) when the lock
 * was lost before its write: it must read what it changes inside, and have no other effect that a second
 * run would repeat.
 */
export async function withFileLock<T>(file: string, work: (lease: Lease) => Promise<T>): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await holdingLock(file, work);
    } catch (error) {
      if (!(error instanceof LockLostError)) throw error;
      if (attempt >= ATTEMPTS) {
        throw new BusyError(
          `${path.basename(file)} was not changed: this change stalled until its lock went stale, ${ATTEMPTS} times; try again`,
          { cause: error },
        );
      }
      console.warn(`${file}: a change was not written, ${error.message}; making it again under a new lock`);
    }
  }
}

async function holdingLock<T>(file: string, work: (lease: Lease) => Promise<T>): Promise<T> {
  const ownership = new LockOwnership(`${path.resolve(file)}.lock`, STALE_MS - COMMIT_MARGIN_MS);
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      stale: STALE_MS,
      update: UPDATE_MS,
      retries: RETRIES,
      fs: ownership.fs,
      onCompromised: (error) => {
        ownership.lost(error);
        console.warn(`lock on ${file} was taken over: ${error.message}`);
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") {
      throw new BusyError(`${path.basename(file)} is busy (another change holds its lock); try again`, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    // under the lock nobody else is writing one; and a stalled holder's rename now fails (see above)
    await removeStrayTemps(file);
    return await work({ write: (data) => writeLocked(file, data, ownership) });
  } finally {
    await release().catch((error: Error) => {
      if (!ownership.wasLost) console.warn(`releasing lock on ${file}: ${error.message}`);
    });
  }
}

async function writeLocked(file: string, data: string | Uint8Array, ownership: LockOwnership): Promise<void> {
  try {
    await writeFileAtomic(file, data, undefined, () => ownership.assertHeld());
  } catch (error) {
    // a rename whose temp file a taker removed fails: that is a lost lock too
    if (!(error instanceof LockLostError) && !(await ownership.isHeld())) {
      throw new LockLostError(`its lock was lost while it wrote (${(error as Error).message})`, { cause: error });
    }
    throw error;
  }
}
