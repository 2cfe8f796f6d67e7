import { freeBytes, modelPath, scanPresence } from "./paths";
import { loadCatalog } from "./store";

export type ModelStatus = "present" | "not_downloaded" | "downloading" | "queued" | "error";

/** GET /api/admin/models: the models catalog with what is on disk, and the volume's figures. */
export async function listModels() {
  const catalog = await loadCatalog("models");
  const [sizes, free] = await Promise.all([scanPresence(catalog.models), freeBytes()]);

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
      const status: ModelStatus = size === undefined ? "not_downloaded" : "present";
      return { ...model, status, on_disk_bytes: size ?? 0 };
    }),
  }));

  return {
    version: catalog.document.version ?? 0,
    date: catalog.document.date ?? "",
    stats: {
      queued_count: 0,
      downloading_count: 0,
      fetching_count: 0,
      present_count: presentCount,
      total_count: catalog.models.length,
      global_speed: 0,
      models_bytes: modelsBytes,
      free_bytes: free,
    },
    categories,
  };
}
