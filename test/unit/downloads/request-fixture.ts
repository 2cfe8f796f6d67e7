/**
 * What the tests of lib/downloads/request.ts share: a studio whose catalog has five checkpoints, and ways
 * to plant what the sidecar would have written (a status entry, a partial file) in the running test's studio.
 */
import { lstat, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, vi } from "vitest";
import { heartbeatPath } from "../../../lib/state/heartbeat";
import { readStatus, updateStatus, type DownloadEntry, type Status } from "../../../lib/state/status";
import { catalogDoc, category, model, useStudio, writeCatalog, type TestStudio } from "../helpers";

export const FILES = ["a.safetensors", "b.safetensors", "c.safetensors", "d.safetensors", "e.safetensors"];

/** The running test's studio, and the helpers below bound to it. */
export interface DownloadsStudio {
  readonly studio: () => TestStudio;
  /** Where `file` (a checkpoint) lives in the models folder. */
  readonly target: (file: string) => string;
  readonly downloads: () => Promise<Status["downloads"]>;
  readonly plantEntry: (file: string, extra: Partial<DownloadEntry>, beatAgoMs?: number) => Promise<void>;
  readonly plantPartial: (file: string) => Promise<void>;
}

/** Registers the studio and its catalog for every test of the file. */
export function useDownloadsStudio(): DownloadsStudio {
  const studio = useStudio();
  beforeEach(async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await writeCatalog(studio(), "models", catalogDoc([category("sd15", FILES.map((file) => model(file)))]));
    return () => vi.restoreAllMocks();
  });
  return {
    studio,
    target: (file) => target(studio(), file),
    downloads: async () => (await readStatus(studio().config)).downloads,
    plantEntry: (file, extra, beatAgoMs) => plantEntry(studio(), file, extra, beatAgoMs),
    plantPartial: (file) => plantPartial(studio(), file),
  };
}

const target = (studio: TestStudio, file: string) => path.join(studio.modelsDir, "checkpoints", file);

export const exists = (file: string) =>
  lstat(file).then(
    () => true,
    () => false,
  );

/** Puts an entry into the status file as the sidecar would, and its heartbeat (state/sidecar.json) `beatAgoMs` old (none if undefined). */
async function plantEntry(studio: TestStudio, file: string, extra: Partial<DownloadEntry>, beatAgoMs?: number): Promise<void> {
  await updateStatus(studio.config, (current, now) => {
    current.downloads[file] = { status: "downloading", bytes_downloaded: 10, bytes_total: 100, speed: 5, percent: 10, seq: 1, queued_at: now, ...extra };
    return { result: undefined, changed: true };
  });
  if (beatAgoMs === undefined) return;
  const now = Date.now();
  await writeFile(heartbeatPath(studio.config.stateDir), JSON.stringify({ pid: 999_999, heartbeat: now - beatAgoMs, started_at: now - 60_000 }));
}

/** The partial file and control file a download of `file` leaves. */
async function plantPartial(studio: TestStudio, file: string): Promise<void> {
  await mkdir(path.dirname(target(studio, file)), { recursive: true });
  await writeFile(`${target(studio, file)}.part`, "partial bytes");
  await writeFile(`${target(studio, file)}.part.json`, "{}");
}
