/**
 * One sidecar per studio: a second one would resume the first one's downloads under its feet. The lock
 * is proper-lockfile's (it works across hosts on EFS, and goes stale 5 s after its holder dies); beside it
 * the holder writes who it is, so that a successor on the same host whose predecessor is gone (killed
 * with SIGKILL, restarted by `npm start`) takes over at once instead of waiting the 5 s out.
 */
import { readFile, rmdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import { ConflictError } from "../errors";

interface Holder {
  pid: number;
  host: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

export async function acquireSidecarLock(stateDir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const file = path.join(stateDir, "sidecar");
  const holderFile = path.join(stateDir, "sidecar.holder.json");
  const options = { realpath: false, stale: 5_000, update: 1_000 };
  if (await lockfile.check(file, options)) {
    const holder = await readFile(holderFile, "utf8")
      .then((text) => JSON.parse(text) as Holder)
      .catch(() => undefined);
    if (holder && holder.host === os.hostname() && holder.pid !== process.pid && !alive(holder.pid)) {
      log(`the previous sidecar (pid ${holder.pid}) is gone; taking over its lock`);
      // proper-lockfile's unlock only releases a lock this process holds: the dead one's lock folder is
      // removed by hand (rmdir: only the empty folder proper-lockfile made, never anything else)
      await rmdir(`${file}.lock`).catch(() => undefined);
    } else {
      log(`another sidecar${holder ? ` (pid ${holder.pid} on ${holder.host})` : ""} holds ${file}; waiting up to 20 s for it to go`);
    }
  }
  const release = await lockfile
    .lock(file, {
      ...options,
      retries: { retries: 40, minTimeout: 250, maxTimeout: 500 },
      onCompromised: (error) => log(`lost the sidecar lock: ${error.message}`),
    })
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ELOCKED") throw new ConflictError(`another sidecar is running on ${stateDir}`);
      throw error;
    });
  await writeFile(holderFile, JSON.stringify({ pid: process.pid, host: os.hostname() } satisfies Holder));
  return release;
}
