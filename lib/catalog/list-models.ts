import { daemonRunning, readStatus, type DownloadEntry } from "../state/status";
import { freeBytes, modelPath, scanPresence } from "./paths";
import { loadCatalog } from "./store";

export type ModelStatus = "present" | "not_downloaded" | "downloading" | "queued" | "error";

/** A download in flight says more than the disk; a failed one says less than a file that is there. */
function modelStatus(entry: DownloadEntry | undefined, present: boolean): ModelStatus {
  if (entry?.status === "queued" || entry?.status === "downloading") return entry.status;
  if (present) return "present";
  return entry?.status === "error" ? "error" : "not_downloaded";
}

/** GET /api/admin/models: the models catalog with what is on disk and downloading, and the volume's figures. */
export async function listModels() {
  const catalog = await loadCatalog("models");
  const [sizes, free, status] = await Promise.all([scanPresence(catalog.models), freeBytes(), readStatus()]);
  const active = Object.values(status.downloads);

  const counted = new Set<string>();
  let presentCount = 0;
  let modelsBytes = 0;
  const categories = catalog.categories.map(({ category, models }) => ({
    ...category,
    models: models.map((model) => {
      const file = modelPath(model);
      const size = sizes.get(file);
      if (size !== undefined) {
        presentCount += 1;
        // two entries naming one file take its space once
        if (!counted.has(file)) modelsBytes += size;
        counted.add(file);
      }
      const entry = status.downloads[model.file];
      const state = modelStatus(entry, size !== undefined);
      return { ...model, status: state, on_disk_bytes: size ?? 0, ...(state === "error" && { error: entry?.error }) };
    }),
  }));

  return {
    version: catalog.document.version ?? 0,
    date: catalog.document.date ?? "",
    stats: {
      queued_count: active.filter((entry) => entry.status === "queued").length,
      downloading_count: active.filter((entry) => entry.status === "downloading").length,
      fetching_count: Object.values(status.metadata).filter((entry) => entry.status === "fetching_metadata").length,
      present_count: presentCount,
      total_count: catalog.models.length,
      global_speed: active.reduce((sum, entry) => sum + (entry.status === "downloading" ? entry.speed : 0), 0),
      models_bytes: modelsBytes,
      free_bytes: free,
      daemon_running: daemonRunning(status),
    },
    categories,
  };
}
