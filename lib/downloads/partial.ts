import { rm } from "node:fs/promises";

/** Where a download in progress keeps its bytes and its control file, beside the final name. */
export const partPath = (target: string): string => `${target}.part`;
export const controlPath = (target: string): string => `${target}.part.json`;

/**
 * Forgets a download's progress: its partial data and control file (never the finished file). The
 * control file goes first: a crash in between leaves data without a claim, never a claim without data.
 */
export async function removePartial(target: string): Promise<void> {
  await rm(controlPath(target), { force: true });
  await rm(partPath(target), { force: true });
}
