import { rm } from "node:fs/promises";
import { containedModelPath, type ModelLocation } from "./paths";

/** Where a download in progress keeps its bytes and its control file, beside the final name. */
export const partPath = (target: string): string => `${target}.part`;
export const controlPath = (target: string): string => `${target}.part.json`;

/**
 * Forgets a download's progress: its partial data and control file (never the finished file). The
 * control file goes first: a crash in between leaves data without a claim, never a claim without data.
 * `target` must come from containedModelPath, checked just before (the download engine's own target is).
 */
export async function removePartial(target: string): Promise<void> {
  await rm(controlPath(target), { force: true });
  await rm(partPath(target), { force: true });
}

/**
 * removePartial for `model`, through its contained path, checked now: when a folder on the way leads
 * out of $MODELS_DIR through a link, nothing is removed and containedModelPath's ConflictError says why.
 * What lies behind such a link belongs to someone else, whatever its name.
 */
export async function removeModelPartial(model: ModelLocation, modelsDir: string): Promise<void> {
  await removePartial(await containedModelPath(model, modelsDir));
}
