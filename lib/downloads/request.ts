/** The API side of downloads: handlers only write intent into the status file; the sidecar does the rest. */
import { unlink } from "node:fs/promises";
import type { Config } from "../config";
import { BusyError, NotFoundError } from "../errors";
import { entryExists, isRegularFile } from "../fs/exists";
import { containedModelPath, modelPath, scanPresence } from "../catalog/paths";
import { findModel, loadCatalog, whileCatalogSteady } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { sidecarRunning } from "../state/heartbeat";
import { isActive, readStatus, updateStatus, type DownloadEntry, type Status } from "../state/status";
import { partPath, removePartial } from "../catalog/partial";
import { resumePaused } from "./queue-control";

/** Queues `files` after everything already in the queue, in their order. */
function enqueue(status: Status, files: readonly string[], now: number): void {
  let seq = Object.values(status.downloads).reduce((last, entry) => Math.max(last, entry.seq), 0);
  for (const file of files) {
    seq += 1;
    status.downloads[file] = { status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq, queued_at: now };
  }
}

export type QueueAnswer = { status: "queued" | "downloading" | "present"; file: string };

// The disk is looked at before the status file is locked: a download that ended in between put its file
// in place after the look, and its entry says so. The second of slack covers clocks that count in steps.
const FINISHED_SLACK_MS = 1_000;

/** True when `entry`'s download put its file in place at `lookedAt` or later: the look missed it. */
const finishedSince = (entry: DownloadEntry | undefined, lookedAt: number): boolean =>
  entry?.status === "done" && (entry.finished_at ?? 0) >= lookedAt - FINISHED_SLACK_MS;

/**
 * POST /api/admin/models/download/{filename}. The catalog stays as it was looked up until the model is
 * queued: a removal from the catalog meanwhile would leave a queued download of a model nobody lists.
 */
export function queueDownload(studio: Studio, file: string): Promise<QueueAnswer> {
  const { config } = studio;
  return whileCatalogSteady(studio, "models", async () => {
    const model = await findModel(studio, file);
    const lookedAt = Date.now();
    if (await isRegularFile(modelPath(model, config.modelsDir))) return { status: "present", file };
    return updateStatus<QueueAnswer>(config, (status, now) => {
      // a paused download asked for again goes back in the queue at its place, from its partial
      if (resumePaused(status.downloads[file])) return { result: { status: "queued", file }, changed: true };
      if (isActive(status.downloads[file])) return { result: { status: "downloading", file }, changed: false };
      if (finishedSince(status.downloads[file], lookedAt)) return { result: { status: "present", file }, changed: false };
      enqueue(status, [file], now);
      return { result: { status: "queued", file }, changed: true };
    });
  });
}

/**
 * POST /api/admin/models/download-batch: skipped are the unknown, present, queued and downloading ones;
 * paused ones are resumed (at their place in the queue) and count as queued.
 */
export function queueBatch(studio: Studio, filenames: readonly string[]): Promise<{ queued: string[]; skipped: string[] }> {
  const { config } = studio;
  return whileCatalogSteady(studio, "models", async () => {
    const models = new Map((await loadCatalog(studio, "models")).models.map((model) => [model.file, model]));
    const named = [...new Set(filenames)];
    // one readdir a folder, not one stat a file: the catalog's lock is held meanwhile
    const lookedAt = Date.now();
    const present = await scanPresence(named.flatMap((file) => models.get(file) ?? []), config.modelsDir);
    const wanted: string[] = [];
    const skipped: string[] = [];
    for (const file of named) {
      const model = models.get(file);
      if (model && !present.has(modelPath(model, config.modelsDir))) wanted.push(file);
      else skipped.push(file);
    }
    const queued = await updateStatus(config, (status, now) => {
      const resumed = wanted.filter((file) => resumePaused(status.downloads[file]));
      const added = wanted.filter((file) => !isActive(status.downloads[file]) && !finishedSince(status.downloads[file], lookedAt));
      enqueue(status, added, now);
      const queued = wanted.filter((file) => resumed.includes(file) || added.includes(file));
      return { result: queued, changed: queued.length > 0 };
    });
    return { queued, skipped: [...skipped, ...wanted.filter((file) => !queued.includes(file))] };
  });
}

const CANCEL_WAIT_MS = 5_000;

/**
 * Stops a queued or running download of `file`; true when this request stopped one. A running one is the
 * sidecar's to stop (it owns the open file): ask, then wait for it to let go. With no sidecar alive
 * nobody holds the file, and the entry is cleared here. The partial is the caller's to remove.
 */
async function stopDownload(config: Config, file: string): Promise<boolean> {
  // The heartbeat is read after the download was seen running: the sidecar that claimed it had beaten
  // before it claimed it, so a stale one now means nobody runs it (a sidecar started since would have
  // queued it again, with another seq, before it claimed it).
  const seen = (await readStatus(config)).downloads[file];
  const orphan = seen?.status === "downloading" && !(await sidecarRunning(config.stateDir)) ? seen.seq : undefined;
  const { state, seq } = await updateStatus<{ state: "idle" | "removed" | "asked" | "joined"; seq: number }>(config, (status) => {
    const entry = status.downloads[file];
    if (!isActive(entry)) return { result: { state: "idle", seq: 0 }, changed: false };
    // nobody holds a queued or paused one's partial (the caller removes it)
    if (entry!.status === "queued" || entry!.status === "paused" || entry!.seq === orphan) {
      delete status.downloads[file];
      return { result: { state: "removed", seq: 0 }, changed: true };
    }
    // A cancel already asked for is the asking request's: this one waits for it and then finds the file
    // gone, as it would had it come second (two "deleted" for one download is no serial order's answer).
    const joined = entry!.cancel === true;
    entry!.cancel = true;
    return { result: { state: joined ? "joined" : "asked", seq: entry!.seq }, changed: !joined };
  });
  if (state === "idle" || state === "removed") return state === "removed";
  const deadline = Date.now() + CANCEL_WAIT_MS;
  // the download asked to stop, not one queued again meanwhile: that one is not this request's
  const stopping = (entry: DownloadEntry | undefined) => isActive(entry) && entry!.seq === seq;
  while (stopping((await readStatus(config)).downloads[file])) {
    // the sidecar still holds the file: removing it now could race its last write or its rename
    if (Date.now() > deadline) {
      throw new BusyError(`The download of '${file}' is still stopping; try again in a few seconds`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return state === "asked";
}

const DELETE_ROUNDS = 3;

/** DELETE /api/admin/models/{filename}: cancels a download in progress (or paused), then deletes the file itself. */
export async function deleteModel(studio: Studio, file: string): Promise<{ status: "deleted"; file: string }> {
  const { config } = studio;
  const model = await findModel(studio, file);
  // before anything is stopped: a folder linked out of $MODELS_DIR is refused, not deleted through
  await containedModelPath(model, config.modelsDir);
  for (let round = 1; ; round++) {
    const stopped = await stopDownload(config, file);
    // Under the catalog's lock nobody can queue the model again (queueing takes it too): what is on disk
    // is this request's to remove until it is done.
    const answer = await whileCatalogSteady(studio, "models", async () => {
      if (isActive((await readStatus(config)).downloads[file])) {
        // queued again once this request's stop took effect: that download came after this request and
        // owns the partial now; one that came after another request's stop is this one's to stop, again
        return stopped ? ("deleted" as const) : ("again" as const);
      }
      // checked again now that nothing writes there: a folder that became a link out of $MODELS_DIR
      // while the download stopped is refused too (409), and nothing is removed through it
      const target = await containedModelPath(model, config.modelsDir);
      // what a failed or stopped download left to resume from goes too
      const partial = await entryExists(partPath(target));
      if (partial) await removePartial(target);
      // a link at the model's path is removed itself, its target never touched
      const present = await entryExists(target);
      if (present) await unlink(target);
      if (!stopped && !partial && !present) throw new NotFoundError(`Model '${file}' is not on disk`);
      await updateStatus(config, (status) => {
        const gone = status.downloads[file] !== undefined && !isActive(status.downloads[file]);
        if (gone) delete status.downloads[file];
        return { result: undefined, changed: gone };
      });
      return "deleted" as const;
    });
    if (answer === "deleted") return { status: "deleted", file };
    if (round >= DELETE_ROUNDS) throw new BusyError(`'${file}' keeps being queued again; try again in a few seconds`);
  }
}
