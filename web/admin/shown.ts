import type { LiveDownload, Model, ModelStatus } from "./types";

/**
 * What a model's row shows: the catalog listing, brought up to the second by the status stream. The
 * listing knows the disk; the stream knows downloads in flight, so it wins while one is queued, running
 * or paused.
 */
export interface Shown {
  readonly status: ModelStatus;
  readonly progress?: LiveDownload;
  readonly error?: string;
  /** On disk, but a verify found its SHA256 is not the catalog's: `error` says so. */
  readonly damaged?: boolean;
  /** Queued or paused: its place in the queue, 0 = next to start. */
  readonly position?: number;
}

/** On its way: a download entry the sidecar will finish unless cancelled (a paused one keeps its place). */
const active = (status: ModelStatus | LiveDownload["status"]): boolean => status === "queued" || status === "downloading" || status === "paused";

const FAILED = "The download failed";
const DAMAGED = "The file is damaged: delete it and download it again";

export function shownState(model: Model, live: LiveDownload | undefined): Shown {
  const shown = fromStatus(model, live);
  if (shown.status === "present" && model.verified === false) return { ...shown, damaged: true, error: model.error ?? DAMAGED };
  if (!inQueue(shown.status)) return shown;
  // the stream's place when it has one: the listing's is up to 15 s old
  const position = shown.progress?.queue_position ?? (shown.progress ? undefined : model.queue_position);
  return typeof position === "number" ? { ...shown, position } : shown;
}

function fromStatus(model: Model, live: LiveDownload | undefined): Shown {
  const state = live?.status;
  if (state === "queued" || state === "downloading" || state === "paused") return model.status === "present" ? { status: "present" } : { status: state, progress: live! };
  // a finished download keeps its full bar while the stream lists it: what came in lately, at a glance
  if (state === "done" && (model.status === "present" || active(model.status))) return { status: "present", progress: live! };
  if (state === "error" && model.status !== "present") return { status: "error", error: live?.error ?? model.error ?? FAILED };
  if (model.status === "error") return { status: "error", error: model.error ?? FAILED };
  return { status: model.status };
}

/**
 * Models the listing still calls queued or downloading but the stream says are finished, failed or gone:
 * the listing is out of date (on-disk size, status) and should be fetched again.
 */
export function staleFiles(models: readonly Model[], downloads: Readonly<Record<string, LiveDownload>>): string[] {
  return models.filter((model) => active(model.status) && !active(downloads[model.file]?.status ?? "done")).map((model) => model.file);
}

/** The words for a status, as the row and the filter say them. */
export const STATUS_LABELS: Readonly<Record<ModelStatus, string>> = {
  present: "On disk",
  not_downloaded: "Not downloaded",
  queued: "Queued",
  downloading: "Downloading",
  paused: "Paused",
  error: "Failed",
};

export const canDownload = (status: ModelStatus): boolean => status === "not_downloaded" || status === "error";
export const isActive = (status: ModelStatus): boolean => active(status);
/** In the queue: waiting for a slot, or paused at its place. */
export const inQueue = (status: ModelStatus): boolean => status === "queued" || status === "paused";
export const canPause = (status: ModelStatus): boolean => status === "queued" || status === "downloading";

/** "1st in the queue": a 0-based queue_position as a person counts. */
export function queuePlace(position: number): string {
  const n = position + 1;
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix} in the queue`;
}

/** The position to ask the move endpoint for: one place earlier (up) or later (down); none above the first. */
export function movedPosition(position: number, direction: "up" | "down"): number | undefined {
  if (direction === "up") return position > 0 ? position - 1 : undefined;
  return position + 1;
}
