/**
 * The sidecar's side of identify and verify: takes a job the API queued in the status file, runs it (one at a
 * time: both read the disk, and one read at a time is what a disk does fastest), and records how it ended.
 * A DELETE asks it to stop (`cancel`), seen on the next tick, within a quarter of a second: the run stops
 * between two reads, keeps what it hashed, and ends "done" and `cancelled`. A sidecar that stops leaves its
 * job "running"; the next one's recover() queues it again, and the run goes on from what was recorded.
 */
import type { Studio } from "../catalog/studio";
import { redactSecrets, secretsOf } from "../redact";
import type { Secret } from "../secret";
import { appendActivity, type ActivityLevel } from "../state/activity-log";
import { readStatus, updateStatus, type VolumeJob, type VolumeJobName } from "../state/status";
import { runIdentify } from "./identify";
import type { JobContext } from "./job";
import { JobProgress, type Outcome } from "./progress";
import { runVerify } from "./verify";

const JOBS: readonly VolumeJobName[] = ["identify", "verify"];
const RUN: Record<VolumeJobName, (ctx: JobContext) => Promise<void>> = { identify: runIdentify, verify: runVerify };

/** Why a run is stopped: the API's cancel ends it, the sidecar's stop leaves it for the next sidecar. */
type StopReason = "cancel" | "shutdown";

interface Running {
  readonly name: VolumeJobName;
  readonly requestedAt: number;
  readonly stop: AbortController;
  readonly settled: Promise<void>;
}

export class VolumeWorker {
  readonly #studio: Studio;
  readonly #secrets: readonly Secret[];
  readonly #log: (line: string) => void;
  #running: Running | undefined;

  constructor(studio: Studio, log: (line: string) => void) {
    this.#studio = studio;
    this.#secrets = secretsOf(studio.config);
    this.#log = log;
  }

  /** After a crash or a stop: a job that was running is queued again (its run goes on from what it recorded). */
  async recover(): Promise<void> {
    await updateStatus(this.#studio.config, (status, now) => {
      let changed = false;
      for (const name of JOBS) {
        const job = status[name];
        if (job?.status !== "running") continue;
        changed = true;
        if (!job.cancel) {
          job.status = "queued";
          continue;
        }
        // a cancel asked of a sidecar that died is granted
        job.status = "done";
        job.cancelled = true;
        job.finished_at = now;
        delete job.cancel;
      }
      return { result: undefined, changed };
    });
  }

  async tick(): Promise<void> {
    const status = await readStatus(this.#studio.config);
    const running = this.#running;
    if (running) {
      const job = status[running.name];
      // a cancel, or the job cleared or replaced behind its back
      if (job?.cancel || job?.requested_at !== running.requestedAt) running.stop.abort("cancel" satisfies StopReason);
      return;
    }
    const name = JOBS.find((candidate) => status[candidate]?.status === "queued");
    if (name === undefined) return;
    const claimed = await updateStatus(this.#studio.config, (current, now) => {
      const job = current[name];
      if (job?.status !== "queued") return { result: undefined, changed: false };
      job.status = "running";
      job.started_at = now;
      return { result: { ...job }, changed: true };
    });
    if (claimed) this.#start(name, claimed);
  }

  #start(name: VolumeJobName, job: VolumeJob): void {
    const stop = new AbortController();
    const settled = this.#run(name, job, stop.signal)
      .catch((error: unknown) => this.#log(`${name}: could not record how it ended: ${redactSecrets(String(error), this.#secrets)}`))
      .finally(() => {
        this.#running = undefined;
      });
    this.#running = { name, requestedAt: job.requested_at, stop, settled };
  }

  async #run(name: VolumeJobName, job: VolumeJob, signal: AbortSignal): Promise<void> {
    const { config } = this.#studio;
    const progress = new JobProgress(config, name, job.requested_at, {
      hashed: 0,
      total: 0,
      ...(name === "identify" ? { matched: 0 } : { verified: 0, damaged: 0 }),
    });
    const note = async (message: string, level: ActivityLevel = "info"): Promise<void> => {
      this.#log(message);
      await appendActivity(config, { message, level });
    };
    let outcome: Outcome = { status: "done" };
    try {
      await RUN[name]({ studio: this.#studio, job, signal, progress, note });
    } catch (error) {
      if (!signal.aborted) {
        const message = redactSecrets((error as Error).message, this.#secrets);
        outcome = { status: "error", error: message };
        await note(`ERROR -- ${name}: ${message}`, "error");
      }
    }
    if (signal.aborted) {
      // the sidecar stopping: the job stays "running" for the next sidecar's recover()
      if (signal.reason !== ("cancel" satisfies StopReason)) return progress.flush();
      outcome = { status: "done", cancelled: true };
      await note(`${name === "identify" ? "Identify" : "Verify"}: cancelled after ${progress.counts.hashed} of ${progress.counts.total} files`);
    }
    await progress.finish(outcome);
  }

  /** Stops a running job where it is; the next sidecar goes on with it. */
  async shutdown(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.stop.abort("shutdown" satisfies StopReason);
    await running.settled;
  }
}
