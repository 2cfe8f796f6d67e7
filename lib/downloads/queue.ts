import { unlink } from "node:fs/promises";
import { NotFoundError, ServiceUnavailableError } from "../errors";
import { entryExists, isRegularFile } from "../fs/exists";
import { modelPath } from "../catalog/paths";
import type { CatalogModel } from "../catalog/schema";
import { findModel, loadCatalog } from "../catalog/store";
import { daemonRunning, isActive, readStatus, updateStatus, type Status } from "../state/status";
import { partPath, removePartial } from "./partial";

/** The API side of downloads: handlers only write intent into the status file; the sidecar does the rest. */


/** Queues `files` after everything already in the queue, in their order. */
function enqueue(status: Status, files: readonly string[], now: number): void {
  let seq = Object.values(status.downloads).reduce((last, entry) => Math.max(last, entry.seq), 0);
  for (const file of files) {
    seq += 1;
    status.downloads[file] = { status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq, queued_at: now };
  }
}

export type QueueAnswer = { status: "queued" | "downloading" | "present"; file: string };

/** POST /api/admin/models/download/{filename}. */
export async function queueDownload(file: string): Promise<QueueAnswer> {
  const model = await findModel(file);
  if (await isRegularFile(modelPath(model))) return { status: "present", file };
  return updateStatus<QueueAnswer>((status, now) => {
    if (isActive(status.downloads[file])) return { result: { status: "downloading", file }, changed: false };
    enqueue(status, [file], now);
    return { result: { status: "queued", file }, changed: true };
  });
}

/** POST /api/admin/models/download-batch: skipped are the unknown, present, queued and downloading ones. */
export async function queueBatch(filenames: readonly string[]): Promise<{ queued: string[]; skipped: string[] }> {
  const models = new Map((await loadCatalog("models")).models.map((model) => [model.file, model]));
  const wanted: string[] = [];
  const skipped: string[] = [];
  for (const file of new Set(filenames)) {
    const model = models.get(file);
    if (model && !(await isRegularFile(modelPath(model)))) wanted.push(file);
    else skipped.push(file);
  }
  const queued = await updateStatus((status, now) => {
    const added = wanted.filter((file) => !isActive(status.downloads[file]));
    enqueue(status, added, now);
    return { result: added, changed: added.length > 0 };
  });
  return { queued, skipped: [...skipped, ...wanted.filter((file) => !queued.includes(file))] };
}

const CANCEL_WAIT_MS = 5_000;

/**
 * Stops a queued or running download of `model` and removes its partial. A running one is the
 * sidecar's to stop (it owns the open file): ask, then wait for it to let go. With no sidecar alive
 * nobody holds the file, and the entry is cleared here.
 */
async function cancelDownload(model: CatalogModel): Promise<boolean> {
  const { file } = model;
  const state = await updateStatus((status, now) => {
    const entry = status.downloads[file];
    if (!isActive(entry)) return { result: "idle" as const, changed: false };
    if (entry!.status === "queued" || !daemonRunning(status, now)) {
      delete status.downloads[file];
      return { result: "removed" as const, changed: true };
    }
    entry!.cancel = true;
    return { result: "asked" as const, changed: true };
  });
  if (state === "idle") return false;
  if (state === "asked") {
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (isActive((await readStatus()).downloads[file])) {
      // the sidecar still holds the file: removing it now could race its last write or its rename
      if (Date.now() > deadline) {
        throw new ServiceUnavailableError(`The download of '${file}' is still stopping; try again in a few seconds`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await removePartial(modelPath(model));
  return true;
}

/** DELETE /api/admin/models/{filename}: cancels a download in progress, then deletes the file itself. */
export async function deleteModel(file: string): Promise<{ status: "deleted"; file: string }> {
  const model = await findModel(file);
  const cancelled = await cancelDownload(model);
  const target = modelPath(model);
  // what a failed download left to resume from goes too
  const partial = await entryExists(partPath(target));
  if (partial) await removePartial(target);
  // a link at the model's path is removed itself, its target never touched
  if (await entryExists(target)) await unlink(target);
  else if (!cancelled && !partial) throw new NotFoundError(`Model '${file}' is not on disk`);
  await updateStatus((status) => {
    const gone = status.downloads[file] !== undefined && !isActive(status.downloads[file]);
    if (gone) delete status.downloads[file];
    return { result: undefined, changed: gone };
  });
  return { status: "deleted", file };
}
