import { rm } from "node:fs/promises";

/** Where a download in progress keeps its bytes and its control file, beside the final name. */
export const partPath = (target: string): string => `${target}.part`;
export const controlPath = (target: string): string => `${target}.part.json`;

/** Forgets a download's progress: its partial data and control file (never the finished file). */
export async function removePartial(target: string): Promise<void> {
  await Promise.all([rm(partPath(target), { force: true }), rm(controlPath(target), { force: true })]);
}
