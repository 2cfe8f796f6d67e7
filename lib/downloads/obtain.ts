/**
 * One queued model, from its catalog entry to its file in place: already there; else the same bytes found
 * elsewhere on the volume and linked or copied in (dedupe.ts); else downloaded (engine/), its SHA256 then
 * recorded so that the next entry with these bytes finds them. The queue (worker.ts) runs this for each
 * model it claims and records the outcome.
 */
import { containedModelPath } from "../catalog/paths";
import { loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { isRegularFile } from "../fs/exists";
import { placeFromVolume, rememberDownload, type Found } from "./dedupe";
import { Download, type DownloadResult } from "./engine/engine";
import type { LiveLimits } from "./engine/job";
import type { DiskRoom } from "./engine/room";
import { resolveSource } from "./engine/source";

/** What is under way for a model, as far as its progress goes: a copy from the volume, then a download. */
export interface UnderWay {
  readonly progress: { done: number; total: number };
}

export interface Obtaining {
  readonly studio: Studio;
  readonly file: string;
  /** The room on disk the queue's downloads share. */
  readonly room: DiskRoom;
  /** The sidecar's live settings: connections per file and the cap, read by the download as it runs. */
  readonly live?: LiveLimits;
  readonly signal: AbortSignal;
  /** The sidecar's log. */
  readonly log: (line: string) => void;
  /** Called with each new thing under way, for the queue's progress writes. */
  readonly underWay: (what: UnderWay) => void;
}

export async function obtain({ studio, file, room, live, signal, log: sidecarLog, underWay }: Obtaining): Promise<DownloadResult | Found> {
  const { config } = studio;
  const log = (line: string) => sidecarLog(`${file}: ${line}`);
  const model = (await loadCatalog(studio, "models")).models.find((entry) => entry.file === file);
  if (!model) throw new Error(`${file} is no longer in the catalog`);
  // never through a folder linked out of $MODELS_DIR: the download fails with why
  const target = await containedModelPath(model, config.modelsDir);
  if (await isRegularFile(target)) return "present";
  if (model.sha256) {
    const onBytes = (done: number, total: number) => underWay({ progress: { done, total } });
    const found = await placeFromVolume({ config, file, target, sha256: model.sha256, signal, log: sidecarLog, onBytes });
    if (found) return found;
  }
  const source = resolveSource(model, config);
  const download = new Download({
    target,
    source,
    sha256: model.sha256 ?? undefined,
    connections: live?.connections ?? config.downloadConnections,
    ...(live && { live }),
    stallMs: config.downloadStallMs,
    retryBaseMs: config.downloadRetryBaseMs,
    maxAttempts: config.downloadMaxAttempts,
    hasCivitaiKey: config.civitaiApiKey !== undefined,
    room,
    signal,
    log,
  });
  underWay(download);
  log(`started from ${source.label} (${live?.connections ?? config.downloadConnections} connections at most)`);
  const result = await download.run();
  // the file is in place whether or not this works: a failure costs a later dedupe, not this download
  await rememberDownload(config, target, result).catch((error: Error) => log(`its SHA256 was not recorded: ${error.message}`));
  return result;
}
