/**
 * The sidecar's identify: hashes the unlisted files and the present catalog files without a `sha256` (a
 * file whose hash is fresh in the cache is not read again), then asks CivitAI about every SHA256 it has not
 * asked about before (civitai-by-hash.ts) and caches the answers, a "not known" too (for a week): a second
 * identify of unchanged files reads nothing and asks nothing.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../catalog/paths";
import type { Config } from "../config";
import { updateHashCache, readHashCache, type CivitaiMatch } from "../state/hash-cache";
import { lookUpHashes } from "./civitai-by-hash";
import { hashEach, HashRecorder } from "./hashing";
import { presentCatalogFiles, unlistedVolumeFiles } from "./inventory";
import { files, hashes, type JobContext } from "./job";
import type { VolumeFile } from "./scan";
import { knownSha256 } from "./unlisted";

const SHA256 = /^[0-9a-f]{64}$/;
/** CivitAI's "no such file" is asked again after a week: a model published since is then found. */
export const UNKNOWN_ASKED_AGAIN_MS = 7 * 24 * 60 * 60 * 1000;

/** The files an identify is about: the unlisted ones, and the catalog's present ones that have no sha256. */
async function candidates(ctx: JobContext): Promise<VolumeFile[]> {
  const [unlisted, present] = await Promise.all([unlistedVolumeFiles(ctx.studio), presentCatalogFiles(ctx.studio)]);
  const byPath = new Map<string, VolumeFile>(unlisted.map((file) => [file.path, file]));
  for (const file of present) if (!SHA256.test(file.model.sha256?.toLowerCase() ?? "")) byPath.set(file.path, file);
  return [...byPath.values()];
}

/**
 * Drops the hash records of files no longer on the volume (deleted, moved, renamed): the cache would
 * otherwise grow with every file that ever was. What CivitAI said of a SHA256 is kept: the bytes may come back.
 */
export async function forgetGoneFiles(config: Pick<Config, "stateDir" | "modelsDir">): Promise<number> {
  const records = Object.entries((await readHashCache(config)).files);
  // each gone file's record as it was seen: one recorded again since (a download that just finished) stays
  const gone = new Map<string, number>();
  await mapLimit(records, 32, async ([key, record]) => {
    await stat(path.join(config.modelsDir, key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") gone.set(key, record.hashed_at);
    });
  });
  if (gone.size === 0) return 0;
  return updateHashCache(config, (cache) => {
    const dropped = [...gone].filter(([key, hashedAt]) => cache.files[key]?.hashed_at === hashedAt).map(([key]) => key);
    for (const key of dropped) delete cache.files[key];
    return { result: dropped.length, changed: dropped.length > 0 };
  });
}

export async function runIdentify(ctx: JobContext): Promise<void> {
  const { studio, signal, progress } = ctx;
  const { config } = studio;
  const forgotten = await forgetGoneFiles(config);
  if (forgotten > 0) await ctx.note(`Identify: forgot the hashes of ${files(forgotten)} no longer on the volume`);
  const all = await candidates(ctx);
  const cache = await readHashCache(config);
  const sha256Of = new Map<string, string>();
  for (const file of all) {
    const known = knownSha256(cache, file);
    if (known !== undefined) sha256Of.set(file.path, known);
  }
  const matchedNow = () => all.filter((file) => (cache.matches[sha256Of.get(file.path) ?? ""]?.match ?? null) !== null).length;
  const toHash = all.filter((file) => !sha256Of.has(file.path));
  await progress.set({ total: all.length, hashed: sha256Of.size, matched: matchedNow() });
  await progress.flush();
  await ctx.note(`Identify: ${files(all.length)} to identify, ${toHash.length} to hash (${sha256Of.size} hashed before)`);

  let skipped = 0;
  await hashEach(toHash, {
    recorder: new HashRecorder(config),
    signal,
    onHashed: async (file, record) => {
      sha256Of.set(file.path, record.sha256);
      await progress.set({ hashed: sha256Of.size });
    },
    onSkipped: async (file, reason) => {
      skipped += 1;
      await ctx.note(`Identify: skipped ${file.path}: ${reason}`, "error");
    },
  });
  if (signal.aborted) return;
  if (toHash.length > 0) await ctx.note(`Identify: hashed ${files(toHash.length - skipped)}`);

  const since = Date.now() - UNKNOWN_ASKED_AGAIN_MS;
  const asked = new Set(
    Object.entries((await readHashCache(config)).matches).flatMap(([sha256, { match, checked_at }]) => (match !== null || checked_at > since ? [sha256] : [])),
  );
  const unknown = [...new Set(sha256Of.values())].filter((sha256) => !asked.has(sha256));
  if (unknown.length > 0) await ctx.note(`Identify: asking CivitAI about ${hashes(unknown.length)}`);
  await lookUpHashes(unknown, config, {
    signal,
    onFallback: (status) => ctx.note(`Identify: CivitAI refused the batch look-up (HTTP ${status}); asking about each SHA256 on its own`),
    onAnswers: async (answers) => {
      await updateHashCache(config, (stored, now) => {
        for (const [sha256, match] of answers) stored.matches[sha256] = { match, checked_at: now };
        return { result: undefined, changed: answers.size > 0 };
      });
      for (const [sha256, match] of answers) cache.matches[sha256] = { match, checked_at: Date.now() };
      const found = [...answers.values()].filter((match): match is CivitaiMatch => match !== null).length;
      await ctx.note(`Identify: CivitAI knows ${found} of ${hashes(answers.size)}`);
      await progress.set({ matched: matchedNow() });
    },
  });
  if (signal.aborted) return;
  await progress.set({ matched: matchedNow() });
  await ctx.note(`Identify: done: CivitAI knows ${progress.counts.matched ?? 0} of ${files(all.length)}`, "ok");
}
