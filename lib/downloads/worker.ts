import type { CatalogModel } from "../catalog/schema";
import { loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { removeModelPartial } from "../catalog/partial";
import { ConflictError } from "../errors";
import { redactSecrets, secretsOf } from "../redact";
import { hasExpired, inspectStatus, isActive, updateStatus, type DownloadEntry, type Status } from "../state/status";
import { notComing, type Found } from "./dedupe";
import type { DownloadResult } from "./engine/engine";
import { asDownloadError, CancelledError } from "./engine/errors";
import { DiskRoom } from "./engine/room";
import { DownloadLimits } from "./limits";
import { obtain, type UnderWay } from "./obtain";
import { Progress, type Figures } from "./progress";
import { pausedAfterRestart, settlePause } from "./queue-control";

interface Running {
  /** Set once the download has its source (or a copy from the volume began); before that only the controller can stop it. */
  download: UnderWay | undefined;
  readonly controller: AbortController;
  readonly startedAt: number;
  readonly progress: Progress;
}

/**
 * Why a running download is stopped: cancel drops its partial, shutdown keeps it for the next start,
 * pause keeps it and marks the entry "paused" (queue-control.ts).
 */
type StopReason = "cancel" | "shutdown" | "pause";

const NO_PROGRESS = { bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0 } as const;

const mb = (bytes: number, seconds: number) => (bytes / 1e6 / Math.max(seconds, 0.001)).toFixed(1);

/**
 * The sidecar's downloads: picks queued entries of the status file in queue order, runs at most
 * the settings' max_concurrent at once (a lowered one holds new starts, it stops nothing), writes their progress, and honours cancels.
 */
export class DownloadQueue {
  readonly #studio: Studio;
  readonly #log: (line: string) => void;
  readonly #running = new Map<string, Running>();
  readonly #settled = new Set<Promise<void>>();
  /** What the running downloads have yet to write, per filesystem: each new one must fit beside them. */
  readonly #room = new DiskRoom();
  /** Why the catalog cannot be read now, once said in the log. */
  #catalogProblem: string | undefined;
  /** The status file wants a write though no progress changed (see tick). */
  #rewrite = false;
  /** The live settings: downloads at once, and the connections and the cap each download reads as it runs. */
  readonly #limits: DownloadLimits;

  constructor(studio: Studio, log: (line: string) => void, limits = new DownloadLimits(studio.config, log)) {
    this.#studio = studio;
    this.#log = log;
    this.#limits = limits;
  }

  get size(): number {
    return this.#running.size;
  }

  /**
   * After a crash: what was downloading is queued again, ahead of the rest, and resumes from its partial;
   * what had been cancelled (the cancel never reached the sidecar that died) is dropped, partial included;
   * paused entries stay paused, and one whose pause had been asked for is paused now.
   */
  async recover(): Promise<void> {
    const { resumed, cancelled, paused } = await updateStatus(this.#studio.config, (status) => {
      // a pause asked for and never settled: paused now (paused entries stay as they are)
      const paused = pausedAfterRestart(status);
      const active = Object.entries(status.downloads).filter(([, entry]) => isActive(entry));
      const cancelled = active.filter(([, entry]) => entry.cancel).map(([file]) => file);
      for (const file of cancelled) delete status.downloads[file];
      const resumed = active.filter(([, entry]) => entry.status === "downloading" && !entry.cancel);
      for (const [, entry] of resumed) {
        entry.status = "queued";
        entry.speed = 0;
        entry.seq = -1_000_000 + entry.seq;
      }
      return { result: { resumed: resumed.map(([file]) => file), cancelled, paused }, changed: active.length > 0 || paused.length > 0 };
    });
    // a catalog that does not parse must not keep the sidecar from starting (it would never run again)
    const models = await this.#models();
    for (const file of cancelled) {
      const model = models.find((entry) => entry.file === file);
      if (model) this.#log(`${file}: cancelled before the restart; ${await this.#dropPartial(model)}`);
    }
    if (paused.length > 0) this.#log(`paused before the restart: ${paused.join(", ")}`);
    if (resumed.length > 0) this.#log(`resuming ${resumed.length} interrupted download(s): ${resumed.join(", ")}`);
  }

  /** One look at the status file: stop what was cancelled, start what fits. */
  async tick(): Promise<void> {
    const { max_concurrent: maxConcurrent } = await this.#limits.refresh();
    const { value: status, corrupt } = await inspectStatus(this.#studio.config);
    // Only an explicit cancel stops a download. A missing entry is not one: the API never removes the
    // entry of a running download, so it was lost (a corrupt status file) and writeProgress restores it.
    let lost = false;
    for (const [file, running] of this.#running) {
      if (status.downloads[file]?.cancel) running.controller.abort("cancel" satisfies StopReason);
      else if (status.downloads[file]?.pause) running.controller.abort("pause" satisfies StopReason);
      lost ||= status.downloads[file] === undefined && this.#figures(running) !== undefined;
    }
    // the next writeProgress writes then: it repairs a corrupt file, restores lost entries, drops expired ones
    if (corrupt || lost || hasExpired(status)) this.#rewrite = true;
    let free = maxConcurrent - this.#running.size;
    if (free <= 0) return;
    const queued = Object.entries(status.downloads)
      .filter(([file, entry]) => entry.status === "queued" && !entry.cancel && !this.#running.has(file))
      .sort(([, a], [, b]) => a.seq - b.seq)
      .map(([file]) => file);
    if (queued.length === 0) return;
    // A catalog that does not parse is the user's to fix (it is never overwritten): what is queued waits
    // for that instead of failing, and goes on once the file reads again.
    let models: readonly CatalogModel[] = [];
    const problem = await loadCatalog(this.#studio, "models").then(
      (catalog) => void (models = catalog.models),
      (error: Error) => error.message,
    );
    if (problem !== this.#catalogProblem) {
      this.#log(problem === undefined ? "the catalog reads again; queued downloads go on" : `queued downloads wait until the catalog is fixed: ${problem}`);
      this.#catalogProblem = problem;
    }
    if (problem !== undefined) return;
    // a model whose bytes are on their way waits for them, then links them (dedupe.ts)
    for (const file of notComing(queued, models, [...this.#running.keys()])) {
      if (free > 0 && (await this.#claim(file))) free -= 1;
    }
  }

  /** The models of the catalog, or none (said in the log) when it cannot be read. */
  async #models() {
    return loadCatalog(this.#studio, "models").then(
      (catalog) => catalog.models,
      (error: Error) => {
        this.#log(`could not read the catalog: ${error.message}`);
        return [];
      },
    );
  }

  /**
   * A cancelled download's partial, removed through its contained path, checked now: a folder that has
   * become a link out of $MODELS_DIR since the download started leads to files that are not ours.
   * Says, for the log, what became of it.
   */
  async #dropPartial(model: CatalogModel): Promise<string> {
    try {
      await removeModelPartial(model, this.#studio.config.modelsDir);
      return "partial data removed";
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return `partial data not removed: ${error.message}`;
    }
  }

  async #claim(file: string): Promise<boolean> {
    const claimed = await updateStatus(this.#studio.config, (status, now) => {
      const entry = status.downloads[file];
      if (entry?.status !== "queued" || entry.cancel) return { result: false, changed: false };
      Object.assign(entry, { status: "downloading", started_at: now, speed: 0 } satisfies Partial<DownloadEntry>);
      delete entry.error;
      return { result: true, changed: true };
    });
    if (claimed) this.#start(file);
    return claimed;
  }

  #start(file: string): void {
    const controller = new AbortController();
    const now = Date.now();
    // registered at once, so that a cancel or a shutdown reaches it from the first instant
    const running: Running = { download: undefined, controller, startedAt: now, progress: new Progress(now) };
    this.#running.set(file, running);
    const log = (line: string) => this.#log(`${file}: ${line}`);
    const underWay = (what: UnderWay) => (running.download = what);
    const run = () => obtain({ studio: this.#studio, file, room: this.#room, live: this.#limits, signal: controller.signal, log: this.#log, underWay });
    const settled = run()
      .then((result) => this.#finished(file, result))
      .catch((error: unknown) => this.#failed(file, error, controller.signal))
      .catch((error: unknown) => log(`could not record the outcome: ${redactSecrets(String(error), secretsOf(this.#studio.config))}`))
      .finally(() => {
        this.#running.delete(file);
        this.#settled.delete(settled);
      });
    this.#settled.add(settled);
  }

  async #finished(file: string, result: DownloadResult | Found): Promise<void> {
    const started = this.#running.get(file)?.startedAt ?? Date.now();
    if (result === "present") {
      this.#log(`${file}: already on disk`);
    } else if ("sha256" in result) {
      const seconds = (Date.now() - started) / 1000;
      const fresh = result.bytes - result.resumedFrom;
      const check = result.verified ? `sha256 ${result.sha256} verified` : `sha256 ${result.sha256} (none known to verify it against)`;
      this.#log(`${file}: finished ${result.bytes} bytes in ${seconds.toFixed(1)} s (${mb(fresh, seconds)} MB/s), ${check}`);
    }
    await updateStatus(this.#studio.config, (status, now) => {
      const entry = status.downloads[file];
      if (!entry) return { result: undefined, changed: false };
      const total = result === "present" ? entry.bytes_total : result.bytes;
      Object.assign(entry, { status: "done", bytes_downloaded: total, bytes_total: total, percent: 100, speed: 0, finished_at: now });
      delete entry.cancel;
      delete entry.pause;
      return { result: undefined, changed: true };
    });
  }

  async #failed(file: string, error: unknown, signal: AbortSignal): Promise<void> {
    const failure = asDownloadError(error);
    const running = this.#running.get(file);
    if (failure instanceof CancelledError || signal.aborted) {
      const reason = signal.reason as StopReason;
      if (reason === "shutdown") {
        this.#log(`${file}: stopped with the sidecar; it resumes on the next start`);
        return;
      }
      // a pause keeps the partial, unless a cancel came meanwhile
      if (reason === "pause" && (await settlePause(this.#studio.config, file, running?.download?.progress.done))) {
        this.#log(`${file}: paused; its partial is kept`);
        return;
      }
      const model = (await this.#models()).find((entry) => entry.file === file);
      const partial = model ? await this.#dropPartial(model) : "no longer in the catalog, so its partial was left";
      await updateStatus(this.#studio.config, (status) => {
        const gone = status.downloads[file] !== undefined;
        delete status.downloads[file];
        return { result: undefined, changed: gone };
      });
      this.#log(`${file}: cancelled; ${partial}`);
      return;
    }
    const message = redactSecrets(failure.message, secretsOf(this.#studio.config));
    this.#log(`${file}: failed: ${message}`);
    await updateStatus(this.#studio.config, (status, now) => {
      const entry = status.downloads[file];
      if (!entry) return { result: undefined, changed: false };
      const done = running?.download?.progress.done ?? entry.bytes_downloaded;
      Object.assign(entry, { status: "error", error: message, speed: 0, bytes_downloaded: done, finished_at: now });
      delete entry.cancel;
      delete entry.pause;
      return { result: undefined, changed: true };
    });
  }

  /**
   * Writes the running downloads' progress when some of it changed (or the status file wants a write, see
   * tick); else nothing. The main loop calls it twice a second and never again before it returns: one write
   * in flight at most, and each writes the latest progress, read under the lock.
   */
  async writeProgress(): Promise<void> {
    const now = Date.now();
    let news = false;
    for (const running of this.#running.values()) {
      const figures = this.#figures(running, now);
      news ||= figures !== undefined && running.progress.isNews(figures);
    }
    if (!news && !this.#rewrite) return;
    this.#rewrite = false;
    const written = await updateStatus(this.#studio.config, (status) => {
      const recorded = this.#record(status);
      return { result: recorded, changed: recorded.size > 0 };
    });
    for (const [running, figures] of written) running.progress.wrote(figures);
  }

  /** A running download's figures now, sampled at `now` when given; undefined until it knows its size. */
  #figures(running: Running, now?: number): Figures | undefined {
    if (running.download === undefined || running.controller.signal.aborted) return undefined;
    const { done, total } = running.download.progress;
    // nothing to say until the download knows its size (and a resumed one its bytes on disk)
    if (total === 0) return undefined;
    if (now !== undefined) running.progress.sample(done, now);
    return running.progress.figures(done, total);
  }

  /** The progress of every running download into `status`; what was put there. */
  #record(status: Status): Map<Running, Figures> {
    const recorded = new Map<Running, Figures>();
    for (const [file, running] of this.#running) {
      const figures = this.#figures(running);
      if (figures === undefined) continue;
      // rebuilt from what this sidecar knows, after a corrupt status file was replaced
      const entry = (status.downloads[file] ??= { ...NO_PROGRESS, status: "downloading", seq: 0, queued_at: running.startedAt, started_at: running.startedAt });
      if (!isActive(entry)) continue;
      Object.assign(entry, figures);
      recorded.set(running, figures);
    }
    return recorded;
  }

  /** Stops every running download, keeping partials, and waits until they have let go of their files. */
  async shutdown(): Promise<void> {
    for (const running of this.#running.values()) running.controller.abort("shutdown" satisfies StopReason);
    await Promise.allSettled([...this.#settled]);
  }
}
