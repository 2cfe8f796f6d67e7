import { mkdir } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import { ServiceUnavailableError } from "../errors";
import { removeStrayTemps } from "./atomic-write";

/**
 * One exclusive lock per shared file, safe on NFS/EFS: proper-lockfile makes `<file>.lock` with mkdir
 * (atomic there too) and keeps its mtime fresh while held. A holder killed with SIGKILL stops refreshing
 * it, so after STALE_MS any waiter takes the lock over: nobody is blocked for more than a few seconds.
 * The holder also clears the temp files that a writer of the file killed before its rename left.
 */
export const STALE_MS = 5_000;
const UPDATE_MS = 1_000;

// Waiters poll for about 15 s in all: longer than a stale lock lives, so a dead holder never fails them.
const RETRIES = { retries: 80, factor: 1.25, minTimeout: 10, maxTimeout: 200, randomize: true };

export async function withFileLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      stale: STALE_MS,
      update: UPDATE_MS,
      retries: RETRIES,
      onCompromised: (error) => console.warn(`lock on ${file} was taken over: ${error.message}`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") {
      throw new ServiceUnavailableError(`${path.basename(file)} is busy (another change holds its lock); try again`, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    // under the lock nobody else is writing one
    await removeStrayTemps(file);
    return await work();
  } finally {
    await release().catch((error: Error) => console.warn(`releasing lock on ${file}: ${error.message}`));
  }
}
