import type { Stats } from "node:fs";
import { lstat, readdir, realpath, stat, statfs } from "node:fs/promises";
import path from "node:path";
import { ConflictError } from "../errors";
import { isWithin } from "../within";

export interface ModelLocation {
  readonly file: string;
  readonly dest: string;
}

/**
 * `$MODELS_DIR/<dest>/<file>`. The schema already refuses names that could leave the folder; this
 * checks again on the resolved path, so a bug elsewhere can never turn into a write outside it.
 */
export function modelPath(model: ModelLocation, modelsDir: string): string {
  const root = path.resolve(modelsDir);
  const full = path.resolve(root, model.dest, model.file);
  if (!full.startsWith(root + path.sep)) throw new Error(`refusing a model path outside ${root}: ${full}`);
  return full;
}

/**
 * modelPath, refused (409) when a link among its folders leads out of $MODELS_DIR: a download or a
 * delete through it would write or remove a file elsewhere. Links to folders inside $MODELS_DIR are
 * fine, and so is a link at the model's path itself: a download replaces it, a delete removes only it.
 */
export async function containedModelPath(model: ModelLocation, modelsDir: string): Promise<string> {
  const full = modelPath(model, modelsDir);
  const root = path.resolve(modelsDir);
  const realRoot = await realpath(root).catch(() => root);
  // the deepest folder of the path that exists, resolved; the folders below it are made as real folders
  for (let dir = path.dirname(full); dir !== root && isWithin(dir, root); dir = path.dirname(dir)) {
    const entry = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw error;
    });
    if (!entry) continue;
    // a dangling link has no real path: nothing may be made through it either
    const real = await realpath(dir).catch(() => undefined);
    if (real === undefined || !isWithin(real, realRoot)) {
      throw new ConflictError(`'${model.dest}' leads outside the models folder through a link; refusing to touch '${model.file}' there`);
    }
    return full;
  }
  return full;
}

/** What is on disk: the size of every present file among `models`, keyed by its full path. */
export function scanPresence(models: readonly ModelLocation[], modelsDir: string): Promise<Map<string, number>> {
  return presentSizes(models.map((model) => modelPath(model, modelsDir)));
}

/** What is on disk: the size of every present file among `targets` (full paths, as modelPath gives them). */
export async function presentSizes(targets: readonly string[]): Promise<Map<string, number>> {
  return new Map([...(await presentStats(targets))].map(([file, s]) => [file, s.size]));
}

/** presentSizes with each file's whole stat (its mtime, its inode): the listing's `verified` needs the mtime. */
export async function presentStats(targets: readonly string[]): Promise<Map<string, Stats>> {
  // One readdir per folder instead of one stat per model: on EFS every call is a network round trip,
  // and most catalog entries are not downloaded.
  const byDir = new Map<string, Set<string>>();
  for (const target of targets) {
    const dir = path.dirname(target);
    let files = byDir.get(dir);
    if (!files) byDir.set(dir, (files = new Set()));
    files.add(path.basename(target));
  }
  const candidates: string[] = [];
  await Promise.all(
    [...byDir].map(async ([dir, wanted]) => {
      for (const name of await listDir(dir)) if (wanted.has(name)) candidates.push(path.join(dir, name));
    }),
  );
  const stats = new Map<string, Stats>();
  await mapLimit(candidates, 32, async (file) => {
    // stat follows symlinks: a model linked in from elsewhere is present; a dangling link or a folder is not
    const s = await stat(file).catch(() => undefined);
    if (s?.isFile()) stats.set(file, s);
  });
  return stats;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
export async function mapLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Free bytes for an unprivileged writer on the volume that holds `dir` (or its nearest existing parent). */
export async function freeBytes(dir: string): Promise<number> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    try {
      const s = await statfs(current);
      return s.bavail * s.bsize;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || current === path.dirname(current)) throw error;
    }
  }
}
