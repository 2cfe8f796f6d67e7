/**
 * The sidecar's hashing runs as the page follows them: identify (what the unlisted files are) and verify
 * (whether the files on disk are intact). Both answer the same progress to POST (start), GET (how far) and
 * DELETE (cancel); the page polls about once a second while one runs, and only one poll per run at a time.
 */
import type { Api } from "./api";
import { byId, h, replaceChildren } from "./dom";
import type { JobProgress } from "./types";

const POLL_MS = 1_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const jobRunning = (progress: JobProgress): boolean => progress.status === "running";

export class Job {
  readonly #api: Api;
  readonly #path: string;
  readonly #show: (progress: JobProgress) => void;
  #following: Promise<JobProgress> | undefined;

  /** `path` is the run's endpoint ("api/admin/models/identify"); `show` draws each progress it reads. */
  constructor(api: Api, path: string, show: (progress: JobProgress) => void) {
    this.#api = api;
    this.#path = path;
    this.#show = show;
  }

  /** Starts a run (or joins the one running: the API starts nothing new then) and follows it to its end. */
  async start(signal: AbortSignal, body?: object): Promise<JobProgress> {
    const progress = await this.#api.call<JobProgress>("POST", this.#path, body);
    this.#show(progress);
    return this.follow(signal);
  }

  /** Reads the progress until the run is no longer running (or the session ends); one loop serves every caller. */
  follow(signal: AbortSignal): Promise<JobProgress> {
    this.#following ??= this.#poll(signal).finally(() => (this.#following = undefined));
    return this.#following;
  }

  async cancel(): Promise<JobProgress> {
    const progress = await this.#api.call<JobProgress>("DELETE", this.#path);
    this.#show(progress);
    return progress;
  }

  async #poll(signal: AbortSignal): Promise<JobProgress> {
    for (;;) {
      const progress = await this.#api.call<JobProgress>("GET", this.#path);
      this.#show(progress);
      if (!jobRunning(progress) || signal.aborted) return progress;
      await pause(POLL_MS);
    }
  }
}

/** What one run's counts say, e.g. "Hashed 3 of 10 files · 2 matched". */
export type JobWords = (progress: JobProgress) => string;

/**
 * Draws a run's progress into `#<id>-status` (a bar while it runs, its counts, the error of a failed one)
 * and shows `#<id>-cancel` only while it runs.
 */
export function renderJob(id: string, label: string, progress: JobProgress, words: JobWords): void {
  const running = jobRunning(progress);
  byId(`${id}-cancel`).hidden = !running;
  const root = byId(`${id}-status`);
  if (progress.status === "idle") {
    replaceChildren(root);
    return;
  }
  const text = words(progress);
  let bar: HTMLProgressElement | false = false;
  if (running) {
    bar = h("progress", { max: Math.max(1, progress.total), "aria-label": label, "aria-valuetext": text });
    bar.value = progress.hashed;
  }
  replaceChildren(
    root,
    bar,
    h("p", { class: "job-text" }, text),
    progress.status === "error" && h("p", { class: "row-error" }, progress.error ?? "The run failed"),
  );
}
