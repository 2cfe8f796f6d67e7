/** The API side of metadata fetches: handlers queue; the sidecar fetches and updates the catalog. */
import { preferredSource } from "../catalog/sources";
import { loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import type { Config } from "../config";
import { appendActivity } from "../state/activity-log";
import { readStatus, updateStatus, type MetadataEntry } from "../state/status";

const inFlight = (entry: MetadataEntry | undefined): boolean =>
  entry?.status === "queued_metadata" || entry?.status === "fetching_metadata";

/**
 * POST /api/admin/models/fetch-metadata: queues every model of models.json with a CivitAI version or a
 * Hugging Face repo. One run at a time: while one is in progress, only the models it lacks are added;
 * otherwise a new run replaces the last one's statuses.
 */
export async function queueMetadata(studio: Studio): Promise<{ queued: number; files: string[] }> {
  const catalog = await loadCatalog(studio, "models");
  const wanted = [
    ...new Set(
      catalog.models
        .filter((model) => preferredSource(model, ["huggingface", "civitai"]) !== undefined)
        .map((model) => model.file),
    ),
  ];
  const files = await updateStatus(studio.config, (status) => {
    const running = Object.values(status.metadata).some(inFlight);
    if (!running) status.metadata = {};
    const added = wanted.filter((file) => !inFlight(status.metadata[file]));
    for (const file of added) status.metadata[file] = { status: "queued_metadata" };
    return { result: added, changed: added.length > 0 || !running };
  });
  if (files.length > 0) await appendActivity(studio.config, { message: `Queued ${files.length} models for metadata fetch`, level: "info" });
  return { queued: files.length, files };
}

/** GET /api/admin/models/metadata-status: each model of the current or last run, with its error if any. */
export async function metadataStatus(config: Config): Promise<Record<string, { status: MetadataEntry["status"]; error?: string }>> {
  const { metadata } = await readStatus(config);
  return Object.fromEntries(
    Object.entries(metadata).map(([file, { status, error }]) => [file, { status, ...(error !== undefined && { error }) }]),
  );
}
