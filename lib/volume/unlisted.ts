/**
 * GET /api/admin/models/unlisted: the model files on the volume that no catalog entry points at, with what
 * an identify found of each: its SHA256 while the file is unchanged since it was hashed (same size and
 * mtime), and what CivitAI said that SHA256 is.
 */
import type { Studio } from "../catalog/studio";
import { freshHash, readHashCache, type CivitaiMatch, type HashCache } from "../state/hash-cache";
import { unlistedVolumeFiles } from "./inventory";
import type { VolumeFile } from "./scan";

export interface MatchView {
  civitai_version_id: number;
  civitai_model_id: number;
  name: string;
  type: string | null;
  base_model: string | null;
}

export interface UnlistedFile {
  path: string;
  dest: string;
  file: string;
  bytes: number;
  sha256: string | null;
  match: MatchView | null;
}

/** A file's SHA256 from a record that still stands for its bytes; undefined when it needs hashing. */
export const knownSha256 = (cache: HashCache, file: VolumeFile): string | undefined =>
  freshHash(cache, file.path, { size: file.bytes, mtimeMs: file.mtimeMs })?.sha256;

/** What CivitAI said of `sha256`: a match, null (not a CivitAI file, or never asked). */
export const matchOf = (cache: HashCache, sha256: string | undefined): CivitaiMatch | null =>
  sha256 === undefined ? null : (cache.matches[sha256]?.match ?? null);

export const matchView = (match: CivitaiMatch): MatchView => ({
  civitai_version_id: match.civitai_version_id,
  civitai_model_id: match.civitai_model_id,
  name: match.name,
  type: match.type ?? null,
  base_model: match.base_model ?? null,
});

export async function listUnlisted(studio: Studio): Promise<{ files: UnlistedFile[] }> {
  const [files, cache] = await Promise.all([unlistedVolumeFiles(studio), readHashCache(studio.config)]);
  return {
    files: files.map((file) => {
      const sha256 = knownSha256(cache, file);
      const match = matchOf(cache, sha256);
      return { path: file.path, dest: file.dest, file: file.file, bytes: file.bytes, sha256: sha256 ?? null, match: match && matchView(match) };
    }),
  };
}
