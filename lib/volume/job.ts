/** What an identify or a verify run is given by the sidecar's worker (worker.ts). */
import type { Studio } from "../catalog/studio";
import type { ActivityLevel } from "../state/activity-log";
import type { VolumeJob } from "../state/status";
import type { JobProgress } from "./progress";

export interface JobContext {
  readonly studio: Studio;
  /** The job as the API asked for it and the worker claimed it. */
  readonly job: VolumeJob;
  /** Stops the run: a DELETE, or the sidecar stopping. The run then returns early, its work so far recorded. */
  readonly signal: AbortSignal;
  readonly progress: JobProgress;
  /** A step, in the activity log and the sidecar's log. */
  note(message: string, level?: ActivityLevel): Promise<void>;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
export const files = (n: number): string => plural(n, "file");
export const hashes = (n: number): string => plural(n, "SHA256", "SHA256s");
