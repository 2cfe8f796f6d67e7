import { modelPath, scanPresence } from "./paths";
import { civitaiId } from "./schema";
import { CATALOG_NAMES, loadCatalog, type CatalogName } from "./store";
import type { Studio } from "./studio";

export interface CivitaiVersionEntry {
  file: string;
  dest: string;
  name: string;
  base_model: string | null;
  status: "present" | "missing";
  civitai_model_id: number | null;
  catalog: CatalogName;
}

export interface CivitaiMap {
  by_version: Record<string, CivitaiVersionEntry>;
  by_model: Record<string, number[]>;
}

/**
 * GET /api/admin/models/civitai-map: both catalogs indexed by CivitAI version and model id, so the
 * Chrome extension answers "do I have this version?" with one lookup. Where two entries claim one
 * version, the models catalog wins over loras, and the first entry within a catalog.
 */
export async function civitaiMap(studio: Studio): Promise<CivitaiMap> {
  const { modelsDir } = studio.config;
  const map: CivitaiMap = { by_version: {}, by_model: {} };
  for (const name of CATALOG_NAMES) {
    const catalog = await loadCatalog(studio, name);
    const withVersion = catalog.models.filter((model) => civitaiId(model.civitai_version_id) !== undefined);
    const sizes = await scanPresence(withVersion, modelsDir);
    for (const model of withVersion) {
      const versionId = civitaiId(model.civitai_version_id) as number;
      const key = String(versionId);
      if (key in map.by_version) continue;
      const modelId = civitaiId(model.civitai_model_id);
      map.by_version[key] = {
        file: model.file,
        dest: model.dest,
        name: model.name,
        base_model: model.base_model ?? null,
        status: sizes.has(modelPath(model, modelsDir)) ? "present" : "missing",
        civitai_model_id: modelId ?? null,
        catalog: name,
      };
      if (modelId !== undefined) (map.by_model[String(modelId)] ??= []).push(versionId);
    }
  }
  return map;
}
