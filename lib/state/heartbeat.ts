/**
 * The sidecar's heartbeat, `$STUDIO_DIR/state/sidecar.json`: who it is and when it last beat. It lives in
 * a file of its own, not in the status file, so that a sidecar with nothing to do writes no shared state:
 * no status lock for the handlers to wait behind, no rewrite of the status file on a network volume. The
 * sidecar is its only writer (one sidecar per studio, see daemon/single-instance.ts), so it takes no lock;
 * it is replaced whole, so a reader never sees half of it.
 */
import path from "node:path";
import { z } from "zod";
import { removeStrayTemps, writeFileAtomic } from "../fs/atomic-write";
import { readTextIfExists } from "../fs/read-text";

export const Heartbeat = z.object({
  pid: z.number(),
  /** When the sidecar last beat, in ms since the epoch. */
  heartbeat: z.number(),
  started_at: z.number(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

/** How often the sidecar beats. */
export const HEARTBEAT_MS = 2_000;
/**
 * A heartbeat older than this means no sidecar is running: four beats missed, room enough for a slow
 * write on a network volume or a busy moment of the sidecar, and still a prompt answer to the API.
 */
export const HEARTBEAT_STALE_MS = 8_000;

export const heartbeatPath = (stateDir: string): string => path.join(stateDir, "sidecar.json");

/** The last heartbeat, or undefined when no sidecar ever beat here (or its file does not parse). */
export async function readHeartbeat(stateDir: string): Promise<Heartbeat | undefined> {
  const text = await readTextIfExists(heartbeatPath(stateDir));
  if (text === undefined) return undefined;
  try {
    return Heartbeat.safeParse(JSON.parse(text)).data;
  } catch {
    return undefined;
  }
}

/** Whether `beat` says that a sidecar is running at `now`. */
export const beatingAt = (beat: Heartbeat | undefined, now = Date.now()): boolean =>
  beat !== undefined && now - beat.heartbeat < HEARTBEAT_STALE_MS;

/** Whether a sidecar is running on the studio of `stateDir`, by its heartbeat. */
export const sidecarRunning = async (stateDir: string, now?: number): Promise<boolean> => beatingAt(await readHeartbeat(stateDir), now);

/**
 * The sidecar's side: `beat()` writes its heartbeat, now. The first one also clears the temp files that a
 * predecessor killed in the middle of a beat left behind (nobody else writes this file).
 */
export function heartbeatWriter(stateDir: string, pid = process.pid, startedAt = Date.now()): { beat: () => Promise<void> } {
  const file = heartbeatPath(stateDir);
  let first = true;
  return {
    async beat() {
      if (first) await removeStrayTemps(file);
      first = false;
      await writeFileAtomic(file, JSON.stringify({ pid, heartbeat: Date.now(), started_at: startedAt } satisfies Heartbeat));
    },
  };
}
