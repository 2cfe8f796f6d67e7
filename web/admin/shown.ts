import type { LiveDownload, Model, ModelStatus } from "./types";

/**
 * What a model's row shows: the catalog listing, brought up to the second by the status stream. The
 * listing knows the disk; the stream knows downloads in flight, so it wins while one is queued or running.
 */
export interface Shown {
  readonly status: ModelStatus;
  readonly progress?: LiveDownload;
  readonly error?: string;
  /** On disk, but a verify found its SHA256 is not the catalog's: `error` says so. */
  readonly damaged?: boolean;
}

const active = (status: ModelStatus | LiveDownload["status"]): boolean => status === "queued" || status === "downloading";

const FAILED = "The download failed";
const DAMAGED = "The file is damaged: delete it and download it again";

export function shownState(model: Model, live: LiveDownload | undefined): Shown {
  const shown = fromStatus(model, live);
  return shown.status === "present" && model.verified === false ? { ...shown, damaged: true, error: model.error ?? DAMAGED } : shown;
}

function fromStatus(model: Model, live: LiveDownload | undefined): Shown {
  const state = live?.status;
  if (state === "queued" || state === "downloading") return model.status === "present" ? { status: "present" } : { status: state, progress: live! };
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
  error: "Failed",
};

export const canDownload = (status: ModelStatus): boolean => status === "not_downloaded" || status === "error";
export const isActive = (status: ModelStatus): boolean => active(status);
