import { lstat } from "node:fs/promises";
import path from "node:path";
import { sleep } from "./fault-kit";

/** The shared files' locks (the sidecar's own single-instance lock stays held all along). */
const SHARED_LOCKS = ["state/status.json.lock", "state/activity-log.json.lock", "catalogs/models.json.lock"];

/**
 * Stops the sidecar `pid` (SIGSTOP) at a moment it holds none of the shared files' locks under `studioDir`,
 * so that the API's changes go through meanwhile; the caller resumes it (SIGCONT) or kills it.
 */
export async function holdSidecar(pid: number, studioDir: string): Promise<void> {
  const locks = SHARED_LOCKS.map((lock) => path.join(studioDir, lock));
  for (let tries = 0; tries < 100; tries++) {
    process.kill(pid, "SIGSTOP");
    const held = await Promise.all(locks.map((lock) => lstat(lock).then(() => true, () => false)));
    if (!held.includes(true)) return;
    process.kill(pid, "SIGCONT");
    await sleep(20);
  }
  throw new Error("the sidecar never let go of its locks");
}
