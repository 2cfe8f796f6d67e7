import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

/** Marker credentials: no response, status file or log line may ever contain them. */
export const HF_TOKEN = "hf_MARKERtokenQ7x2v9";
export const CIVITAI_API_KEY = "civitaiMARKERkey4k8p1";
export const MARKERS: readonly string[] = [HF_TOKEN, CIVITAI_API_KEY];

export interface MarkerHit {
  readonly where: string;
  readonly marker: string;
}

/** Every place in `text` where a marker (or its URL-encoded form) appears. */
export function markersIn(where: string, text: string): MarkerHit[] {
  return MARKERS.flatMap((marker) =>
    text.includes(marker) || text.includes(encodeURIComponent(marker)) ? [{ where, marker }] : [],
  );
}

/**
 * Scans every file under `roots` (logs, state, catalogs, control files: all but model data over 16 MiB,
 * which is upstream bytes) for the markers. Returns the hits; a test expects none.
 */
export async function markersOnDisk(...roots: string[]): Promise<MarkerHit[]> {
  const hits: MarkerHit[] = [];
  const visit = async (entry: string): Promise<void> => {
    const info = await stat(entry).catch(() => undefined);
    if (!info) return;
    // a running stack creates and removes locks and temp files while this walks: one gone meanwhile had nothing to read
    if (info.isDirectory()) {
      for (const name of await readdir(entry).catch(() => [])) await visit(path.join(entry, name));
      return;
    }
    if (!info.isFile() || info.size > 16 * 1024 * 1024) return;
    const text = await readFile(entry).catch(() => undefined);
    if (text) hits.push(...markersIn(entry, text.toString("latin1")));
  };
  for (const root of roots) await visit(root);
  return hits;
}
