/**
 * The API side of identify and verify: POST asks the sidecar for a run (one of each at a time: while one is
 * queued or running, a POST answers its progress and starts nothing), GET says how far it got, DELETE asks
 * it to stop and waits a moment for the sidecar to let go. Each answers the progress.
 */
import { loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import type { Config } from "../config";
import { NotFoundError } from "../errors";
import { sidecarRunning } from "../state/heartbeat";
import { readStatus, updateStatus, type VolumeJob, type VolumeJobName } from "../state/status";

export interface IdentifyProgress {
  status: "idle" | "running" | "done" | "error";
  hashed: number;
  total: number;
  matched: number;
  error?: string;
  cancelled?: true;
}

export interface VerifyProgress {
  status: "idle" | "running" | "done" | "error";
  hashed: number;
  total: number;
  verified: number;
  damaged: number;
  error?: string;
  cancelled?: true;
}

type Progress<N extends VolumeJobName> = N extends "identify" ? IdentifyProgress : VerifyProgress;

const active = (job: VolumeJob | undefined): boolean => job?.status === "queued" || job?.status === "running";

/** The job as the API shows it: a queued one is "running" (it starts within a tick), none is "idle". */
export function progressOf<N extends VolumeJobName>(name: N, job: VolumeJob | undefined): Progress<N> {
  const base = {
    status: job === undefined ? "idle" : job.status === "queued" ? "running" : job.status,
    hashed: job?.hashed ?? 0,
    total: job?.total ?? 0,
    ...(name === "identify" ? { matched: job?.matched ?? 0 } : { verified: job?.verified ?? 0, damaged: job?.damaged ?? 0 }),
    ...(job?.status === "error" && { error: job.error ?? "failed" }),
    ...(job?.cancelled === true && { cancelled: true }),
  };
  return base as Progress<N>;
}

/** POST: queues a run, unless one is queued or running. */
export async function startJob<N extends VolumeJobName>(config: Config, name: N, files?: readonly string[]): Promise<Progress<N>> {
  const job = await updateStatus(config, (status, now) => {
    const current = status[name];
    if (active(current)) return { result: current, changed: false };
    status[name] = {
      status: "queued",
      requested_at: now,
      hashed: 0,
      total: 0,
      ...(name === "identify" ? { matched: 0 } : { verified: 0, damaged: 0 }),
      ...(files !== undefined && { files: [...new Set(files)] }),
    };
    return { result: status[name], changed: true };
  });
  return progressOf(name, job);
}

/** POST /api/admin/models/verify: every present catalog file with a sha256, or only those named (404 for a name no catalog has). */
export async function startVerify(studio: Studio, files?: readonly string[]): Promise<VerifyProgress> {
  if (files !== undefined) {
    const known = new Set([...(await loadCatalog(studio, "models")).models, ...(await loadCatalog(studio, "loras")).models].map((model) => model.file));
    const unknown = files.filter((file) => !known.has(file));
    if (unknown.length > 0) throw new NotFoundError(`Not in either catalog: ${unknown.map((file) => `'${file}'`).join(", ")}`);
  }
  return startJob(studio.config, "verify", files);
}

/** GET: the last run, or the one in progress. */
export async function jobProgress<N extends VolumeJobName>(config: Config, name: N): Promise<Progress<N>> {
  return progressOf(name, (await readStatus(config))[name]);
}

const STOP_WAIT_MS = 2_000;

/**
 * DELETE: stops the run. One still queued, or one whose sidecar is gone, ends here; a running one is the
 * sidecar's to stop (it stops between two reads, within a second): the answer waits for it, a while.
 */
export async function cancelJob<N extends VolumeJobName>(config: Config, name: N): Promise<Progress<N>> {
  // read before the update: a sidecar that claimed the job beat before it did, so a stale beat now means nobody runs it
  const orphaned = (await readStatus(config))[name]?.status === "running" && !(await sidecarRunning(config.stateDir));
  const { job, asked } = await updateStatus(config, (status, now) => {
    const current = status[name];
    if (!current || !active(current)) return { result: { job: current, asked: false }, changed: false };
    if (current.status === "queued" || orphaned) {
      current.status = "done";
      current.cancelled = true;
      current.finished_at = now;
      delete current.cancel;
      return { result: { job: current, asked: false }, changed: true };
    }
    current.cancel = true;
    return { result: { job: current, asked: true }, changed: true };
  });
  if (!asked) return progressOf(name, job);
  const deadline = Date.now() + STOP_WAIT_MS;
  for (;;) {
    const now = (await readStatus(config))[name];
    if (!active(now) || now?.requested_at !== job?.requested_at || Date.now() > deadline) return progressOf(name, now);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
