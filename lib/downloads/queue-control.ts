/**
 * The queue in the user's hands: pause and resume one download or all of them, and move one within the
 * queue (the queued and paused entries, by `seq`). Every change is one update of the status file under its
 * lock, so it is serialised with the other mutations. A queued entry is paused here at once; a running one
 * is the sidecar's to stop (it owns the open file): the API sets `pause`, the sidecar aborts the run,
 * keeps the partial and marks the entry "paused" (settlePause), and the request waits for that.
 */
import type { Config } from "../config";
import { ConflictError, NotFoundError } from "../errors";
import { sidecarRunning } from "../state/heartbeat";
import { inQueue, queueOrder, readStatus, updateStatus, type DownloadEntry, type Status } from "../state/status";

type StateDir = Pick<Config, "stateDir">;

/** What one change of the status file found: a state, and the entry's seq, the reason for a 409, the new place. */
interface Step {
  readonly state: "missing" | "paused" | "asked" | "joined" | "refused" | "queued" | "moved";
  readonly seq?: number;
  readonly why?: string;
  readonly at?: number;
}

/** How long a pause waits for the sidecar to stop a running download (it looks twice a second). */
const PAUSE_WAIT_MS = 5_000;

/**
 * A download with a cancel pending (a DELETE waiting for the sidecar) counts as gone already: the answer
 * is the one it gets after that DELETE, as in some serial order of the two.
 */
const noEntry = (file: string) => new NotFoundError(`'${file}' has no download: queue it first (POST /api/admin/models/download/${encodeURIComponent(file)})`);

/** Why `entry` cannot be paused or resumed, in the words of its state. */
function whyNot(file: string, entry: DownloadEntry, action: "pause" | "resume"): string {
  switch (entry.status) {
    case "done":
      return `The download of '${file}' has finished: there is nothing to ${action}`;
    case "error":
      return `The download of '${file}' failed: download it again instead (POST /api/admin/models/download/${encodeURIComponent(file)})`;
    case "paused":
      return `The download of '${file}' is already paused`;
    case "queued":
      return `The download of '${file}' is already queued`;
    case "downloading":
      return entry.cancel ? `The download of '${file}' is being cancelled` : `The download of '${file}' is already running`;
  }
}

/** Makes a queued entry paused; true when it was queued. */
function pauseQueued(entry: DownloadEntry): boolean {
  if (entry.status !== "queued") return false;
  Object.assign(entry, { status: "paused", speed: 0 } satisfies Partial<DownloadEntry>);
  return true;
}

/** Puts a paused entry back in the queue at its place (its `seq`); the sidecar resumes it from its partial. */
export function resumePaused(entry: DownloadEntry | undefined): boolean {
  if (entry?.status !== "paused") return false;
  entry.status = "queued";
  delete entry.pause;
  return true;
}

/** The seq of a running download this request found orphaned (no sidecar alive to stop it), if any. */
async function orphanSeq(config: StateDir, files: readonly string[]): Promise<Map<string, number>> {
  const seen = (await readStatus(config)).downloads;
  const running = files.filter((file) => seen[file]?.status === "downloading");
  if (running.length === 0 || (await sidecarRunning(config.stateDir))) return new Map();
  return new Map(running.map((file) => [file, seen[file]!.seq]));
}

/** Asks for a running entry to pause; with no sidecar to stop it (an orphan) it is paused here. */
function askPause(entry: DownloadEntry, orphan: number | undefined): "paused" | "asked" | "joined" | "refused" {
  if (entry.status !== "downloading" || entry.cancel) return "refused";
  if (entry.seq === orphan) {
    Object.assign(entry, { status: "paused", speed: 0 } satisfies Partial<DownloadEntry>);
    delete entry.pause;
    return "paused";
  }
  if (entry.pause) return "joined";
  entry.pause = true;
  return "asked";
}

/** Waits until none of `stopping` (file to seq) is still running with that seq; gives up after PAUSE_WAIT_MS. */
async function untilStopped(config: StateDir, stopping: ReadonlyMap<string, number>): Promise<Status> {
  const deadline = Date.now() + PAUSE_WAIT_MS;
  for (;;) {
    const status = await readStatus(config);
    const still = [...stopping].some(([file, seq]) => status.downloads[file]?.status === "downloading" && status.downloads[file]!.seq === seq);
    // the flag stays: the sidecar (or the next one's recover) still pauses it, and the answer holds
    if (!still || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export type PauseAnswer = { status: "paused"; file: string };

/** POST /api/admin/models/download/{filename}/pause. */
export async function pauseDownload(config: StateDir, file: string): Promise<PauseAnswer> {
  const orphan = (await orphanSeq(config, [file])).get(file);
  const step = await updateStatus<Step>(config, (status) => {
    const entry = status.downloads[file];
    if (!entry || entry.cancel) return { result: { state: "missing", seq: 0 }, changed: false };
    if (pauseQueued(entry)) return { result: { state: "paused", seq: entry.seq }, changed: true };
    const state = askPause(entry, orphan);
    const why = state === "refused" ? whyNot(file, entry, "pause") : "";
    return { result: { state, seq: entry.seq, why }, changed: state === "paused" || state === "asked" };
  });
  if (step.state === "missing") throw noEntry(file);
  if (step.state === "refused") throw new ConflictError(step.why!);
  if (step.state === "paused") return { status: "paused", file };
  const entry = (await untilStopped(config, new Map([[file, step.seq!]]))).downloads[file];
  // a pause already asked for is the asking request's: this one comes second, as in some serial order
  if (step.state === "joined") throw new ConflictError(`The download of '${file}' is already paused`);
  // it finished or failed before the sidecar saw the pause: that came first
  if (entry !== undefined && entry.seq === step.seq && (entry.status === "done" || entry.status === "error")) throw new ConflictError(whyNot(file, entry, "pause"));
  return { status: "paused", file };
}

export type ResumeAnswer = { status: "queued"; file: string };

/** POST /api/admin/models/download/{filename}/resume: back in the queue at its place. */
export async function resumeDownload(config: StateDir, file: string): Promise<ResumeAnswer> {
  // a pause under way is waited for: resuming it then is the serial order "pause, then resume"
  const before = (await readStatus(config)).downloads[file];
  if (before?.status === "downloading" && before.pause) await untilStopped(config, new Map([[file, before.seq]]));
  const step = await updateStatus<Step>(config, (status) => {
    const entry = status.downloads[file];
    if (!entry || entry.cancel) return { result: { state: "missing" }, changed: false };
    if (resumePaused(entry)) return { result: { state: "queued" }, changed: true };
    return { result: { state: "refused", why: whyNot(file, entry, "resume") }, changed: false };
  });
  if (step.state === "missing") throw noEntry(file);
  if (step.state === "refused") throw new ConflictError(step.why!);
  return { status: "queued", file };
}

/** POST /api/admin/downloads/pause-all: every queued and running download; the ones this request paused. */
export async function pauseAll(config: StateDir): Promise<{ paused: string[] }> {
  const orphans = await orphanSeq(config, Object.keys((await readStatus(config)).downloads));
  const { paused, asked } = await updateStatus(config, (status) => {
    const paused: [string, number][] = [];
    const asked = new Map<string, number>();
    for (const [file, entry] of Object.entries(status.downloads)) {
      if (pauseQueued(entry)) paused.push([file, entry.seq]);
      else if (entry.status === "downloading") {
        const state = askPause(entry, orphans.get(file));
        if (state === "paused" || state === "asked") paused.push([file, entry.seq]);
        if (state === "asked") asked.set(file, entry.seq);
      }
    }
    return { result: { paused, asked }, changed: paused.length > 0 };
  });
  if (asked.size > 0) await untilStopped(config, asked);
  return { paused: paused.sort(([, a], [, b]) => a - b).map(([file]) => file) };
}

/** POST /api/admin/downloads/resume-all: every paused download back in the queue, in queue order. */
export function resumeAll(config: StateDir): Promise<{ resumed: string[] }> {
  return updateStatus(config, (status) => {
    const resumed = queueOrder(status).filter((file) => resumePaused(status.downloads[file]));
    return { result: { resumed }, changed: resumed.length > 0 };
  });
}

/**
 * POST /api/admin/models/download/{filename}/move: puts a queued or paused entry at `position` of the
 * queue (0: next to start; past the end: last). The queue's seqs are dealt out again in the new order,
 * so that whatever is queued later still comes after all of them.
 */
export async function moveDownload(config: StateDir, file: string, position: number): Promise<{ file: string; queue_position: number }> {
  const step = await updateStatus<Step>(config, (status) => {
    const entry = status.downloads[file];
    if (!entry || entry.cancel) return { result: { state: "missing", at: 0 }, changed: false };
    if (!inQueue(entry)) {
      const why = entry.status === "downloading" ? "is running" : entry.status === "done" ? "has finished" : "failed";
      return { result: { state: "refused", at: 0, why: `The download of '${file}' ${why}: only a queued or paused one can be moved` }, changed: false };
    }
    const order = queueOrder(status);
    const seqs = order.map((name) => status.downloads[name]!.seq).sort((a, b) => a - b);
    const rest = order.filter((name) => name !== file);
    const at = Math.min(position, rest.length);
    rest.splice(at, 0, file);
    let changed = false;
    rest.forEach((name, index) => {
      const moved = status.downloads[name]!;
      changed ||= moved.seq !== seqs[index];
      moved.seq = seqs[index]!;
    });
    return { result: { state: "moved", at }, changed };
  });
  if (step.state === "missing") throw noEntry(file);
  if (step.state === "refused") throw new ConflictError(step.why!);
  return { file, queue_position: step.at! };
}

/**
 * The sidecar's side of a pause: the run has stopped, its partial is kept; the entry becomes "paused" with
 * the bytes done. False when a cancel came meanwhile: then the caller cancels it (partial dropped).
 */
export function settlePause(config: StateDir, file: string, done: number | undefined): Promise<boolean> {
  return updateStatus(config, (status) => {
    const entry = status.downloads[file];
    if (entry?.cancel) return { result: false, changed: false };
    // an entry lost meanwhile (a corrupt status file) has nothing to mark; its partial stays all the same
    if (!entry) return { result: true, changed: false };
    Object.assign(entry, { status: "paused", speed: 0, bytes_downloaded: done ?? entry.bytes_downloaded } satisfies Partial<DownloadEntry>);
    if (entry.bytes_total > 0) entry.percent = Math.min(100, Math.round((entry.bytes_downloaded / entry.bytes_total) * 1000) / 10);
    delete entry.pause;
    return { result: true, changed: true };
  });
}

/**
 * After a crash (recover()): a running download whose pause was asked for but never settled is paused
 * now (its partial was kept), unless it was cancelled too. Returns their files.
 */
export function pausedAfterRestart(status: Status): string[] {
  const paused: string[] = [];
  for (const [file, entry] of Object.entries(status.downloads)) {
    if (entry.status !== "downloading" || !entry.pause || entry.cancel) continue;
    Object.assign(entry, { status: "paused", speed: 0 } satisfies Partial<DownloadEntry>);
    delete entry.pause;
    paused.push(file);
  }
  return paused;
}
