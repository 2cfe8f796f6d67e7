import { ConflictError, modelNotFound } from "../errors";
import { removePartial } from "./partial";
import { entryExists } from "../fs/exists";
import { isActive, readStatus } from "../state/status";
import { containedModelPath, modelPath } from "./paths";
import { usableEntry } from "./schema";
import { changeCatalog } from "./store";
import type { Studio } from "./studio";


/** DELETE /api/admin/models/{filename}/catalog: forgets a model whose file is not on disk. */
export async function removeFromCatalog(studio: Studio, file: string): Promise<{ status: "removed"; file: string }> {
  const { modelsDir } = studio.config;
  return changeCatalog(studio, "models", async (catalog) => {
    const entries = catalog.models.filter((model) => model.file === file);
    if (entries.length === 0) throw modelNotFound(file);
    if (isActive((await readStatus(studio.config)).downloads[file])) {
      throw new ConflictError(
        `Model '${file}' is being downloaded: cancel it first (DELETE /api/admin/models/${encodeURIComponent(file)})`,
      );
    }
    for (const entry of entries) {
      if (await entryExists(modelPath(entry, modelsDir))) {
        throw new ConflictError(
          `Model '${file}' is still on disk in ${entry.dest}/: delete the file first (DELETE /api/admin/models/${encodeURIComponent(file)})`,
        );
      }
    }
    // An invalid entry that happens to carry the same name is not "in the catalog": it stays as it is.
    const isRemoved = (entry: unknown): boolean => usableEntry(entry).model?.file === file;
    for (const { category } of catalog.categories) category.models = category.models.filter((e) => !isRemoved(e));
    // a failed download's partial would be left with nothing to name it
    for (const entry of entries) {
      // never through a folder that links out of $MODELS_DIR: what is there is not ours
      const target = await containedModelPath(entry, modelsDir).catch(() => undefined);
      if (target !== undefined) await removePartial(target);
    }
    return { result: { status: "removed", file }, changed: true };
  });
}
