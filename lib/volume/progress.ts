/**
 * A running job's counts in the status file (`identify` or `verify`): written when they changed, at most
 * twice a second while the job runs (a run of small files changes them hundreds of times a second), and
 * once more at its end. Each write touches only the job it was started for: a job the API has since
 * replaced or cleared is left alone.
 */
import type { Config } from "../config";
import { updateStatus, type VolumeJob, type VolumeJobName } from "../state/status";

export const PROGRESS_MS = 500;

export type Counts = Pick<VolumeJob, "hashed" | "total" | "matched" | "verified" | "damaged">;

export type Outcome = { status: "done"; cancelled?: boolean } | { status: "error"; error: string };

export class JobProgress {
  readonly #config: Pick<Config, "stateDir">;
  readonly #name: VolumeJobName;
  readonly #requestedAt: number;
  readonly #minMs: number;
  #counts: Counts;
  #written = "";
  #writtenAt = 0;

  constructor(config: Pick<Config, "stateDir">, name: VolumeJobName, requestedAt: number, counts: Counts, minMs = PROGRESS_MS) {
    this.#config = config;
    this.#name = name;
    this.#requestedAt = requestedAt;
    this.#counts = { ...counts };
    this.#minMs = minMs;
  }

  get counts(): Readonly<Counts> {
    return this.#counts;
  }

  /** Changes the counts; they reach the file when the last write is old enough. */
  async set(change: Partial<Counts>): Promise<void> {
    Object.assign(this.#counts, change);
    if (Date.now() - this.#writtenAt >= this.#minMs) await this.#write();
  }

  /** The counts as they are now, whatever the time since the last write. */
  async flush(): Promise<void> {
    await this.#write();
  }

  /** The job's end, with its counts. */
  async finish(outcome: Outcome): Promise<void> {
    await this.#write(outcome);
  }

  async #write(outcome?: Outcome): Promise<void> {
    const text = JSON.stringify(this.#counts);
    if (outcome === undefined && text === this.#written) return;
    this.#writtenAt = Date.now();
    this.#written = text;
    await updateStatus(this.#config, (status, now) => {
      const job = status[this.#name];
      if (job?.requested_at !== this.#requestedAt) return { result: undefined, changed: false };
      Object.assign(job, this.#counts);
      if (outcome) {
        job.status = outcome.status;
        job.finished_at = now;
        delete job.cancel;
        if (outcome.status === "error") job.error = outcome.error;
        else if (outcome.cancelled) job.cancelled = true;
      }
      return { result: undefined, changed: true };
    });
  }
}
