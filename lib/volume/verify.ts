/**
 * The sidecar's verify: re-reads the present catalog files that have a `sha256` (all, or the ones the API
 * named), whatever the hash cache says (bit rot changes neither size nor mtime), and records each hash
 * dated `verified_at`. The listing's `verified` comes from those records (lib/catalog/list-models.ts).
 * After a restart of the sidecar the run goes on: a file verified since the run was asked for, and not
 * changed since, is not read again.
 */
import { freshHash, readHashCache } from "../state/hash-cache";
import { hashEach, HashRecorder } from "./hashing";
import { presentCatalogFiles, type CatalogFile } from "./inventory";
import { files, type JobContext } from "./job";

/** The SHA256 the catalog gives the file, or undefined when it gives none. */
export const wantedSha256 = (file: CatalogFile): string | undefined => {
  const sha256 = file.model.sha256?.toLowerCase();
  return sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : undefined;
};

export async function runVerify(ctx: JobContext): Promise<void> {
  const { studio, signal, progress, job } = ctx;
  const { config } = studio;
  const named = job.files === undefined ? undefined : new Set(job.files);
  const targets = (await presentCatalogFiles(studio)).filter(
    (file) => wantedSha256(file) !== undefined && (named === undefined || named.has(file.model.file)),
  );
  const cache = await readHashCache(config);
  let verified = 0;
  let damaged = 0;
  let hashed = 0;
  const judge = async (file: CatalogFile, got: string): Promise<void> => {
    hashed += 1;
    const want = wantedSha256(file)!;
    if (got === want) verified += 1;
    else {
      damaged += 1;
      await ctx.note(`Verify: ${file.path} is damaged: its SHA256 is ${got}, the catalog says ${want}`, "error");
    }
    await progress.set({ hashed, verified, damaged });
  };

  await progress.set({ total: targets.length, hashed, verified, damaged });
  const toHash: CatalogFile[] = [];
  for (const file of targets) {
    const record = freshHash(cache, file.path, { size: file.bytes, mtimeMs: file.mtimeMs });
    // verified during this run, before the sidecar stopped
    if (record?.verified_at !== undefined && record.verified_at >= job.requested_at) await judge(file, record.sha256);
    else toHash.push(file);
  }
  await progress.flush();
  await ctx.note(`Verify: reading ${files(toHash.length)} again${hashed > 0 ? ` (${hashed} verified before the sidecar restarted)` : ""}`);

  const byPath = new Map<string, CatalogFile[]>();
  for (const file of toHash) byPath.set(file.path, [...(byPath.get(file.path) ?? []), file]);
  await hashEach([...byPath.values()].map((entries) => entries[0]!), {
    recorder: new HashRecorder(config),
    signal,
    verify: true,
    // two entries naming one path are judged each against its own sha256, from one read
    onHashed: async (file, record) => {
      for (const entry of byPath.get(file.path) ?? []) await judge(entry, record.sha256);
    },
    onSkipped: async (file, reason) => {
      await ctx.note(`Verify: skipped ${file.path}: ${reason}`, "error");
    },
  });
  if (signal.aborted) return;
  const summary = `Verify: done: ${verified} of ${files(targets.length)} intact${damaged > 0 ? `, ${damaged} damaged` : ""}`;
  await ctx.note(summary, damaged > 0 ? "error" : "ok");
}
