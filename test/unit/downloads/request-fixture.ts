/**
 * What the tests of lib/downloads/request.ts share: a studio whose catalog has five checkpoints, and ways
 * to plant what the sidecar would have written (a status entry, a partial file). The lib modules are
 * imported inside each call, so that they are the fresh ones of the running test (useStudio resets them).
 */
import { lstat, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, vi } from "vitest";
import { catalogDoc, category, model, useStudio, writeCatalog, type Studio } from "../helpers";
import type { DownloadEntry } from "../../../lib/state/status";

export const FILES = ["a.safetensors", "b.safetensors", "c.safetensors", "d.safetensors", "e.safetensors"];

/** Registers the studio and its catalog for every test of the file; gives the running test's studio. */
export function useDownloadsStudio(): () => Studio {
  const studio = useStudio();
  beforeEach(async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await writeCatalog(studio(), "models", catalogDoc([category("sd15", FILES.map((file) => model(file)))]));
    return () => vi.restoreAllMocks();
  });
  return studio;
}

const status = () => import("../../../lib/state/status");

/** Where `file` (a checkpoint) lives in `studio`'s models folder. */
export const target = (studio: Studio, file: string) => path.join(studio.modelsDir, "checkpoints", file);

export const downloads = async () => (await (await status()).readStatus()).downloads;

export const exists = (file: string) =>
  lstat(file).then(
    () => true,
    () => false,
  );

/** Puts an entry into the status file as the sidecar would, and its heartbeat (state/sidecar.json) `beatAgoMs` old (none if undefined). */
export async function plantEntry(file: string, extra: Partial<DownloadEntry>, beatAgoMs?: number): Promise<void> {
  await (await status()).updateStatus((current, now) => {
    current.downloads[file] = { status: "downloading", bytes_downloaded: 10, bytes_total: 100, speed: 5, percent: 10, seq: 1, queued_at: now, ...extra };
    return { result: undefined, changed: true };
  });
  if (beatAgoMs === undefined) return;
  const { config } = await import("../../../lib/config");
  const { heartbeatPath } = await import("../../../lib/state/heartbeat");
  const now = Date.now();
  await writeFile(heartbeatPath(config().stateDir), JSON.stringify({ pid: 999_999, heartbeat: now - beatAgoMs, started_at: now - 60_000 }));
}

/** The partial file and control file a download of `file` leaves. */
export async function plantPartial(studio: Studio, file: string): Promise<void> {
  await mkdir(path.dirname(target(studio, file)), { recursive: true });
  await writeFile(`${target(studio, file)}.part`, "partial bytes");
  await writeFile(`${target(studio, file)}.part.json`, "{}");
}
