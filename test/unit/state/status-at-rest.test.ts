/**
 * What the sidecar at rest asks of the status file: to read whether it wants a write (corrupt, or with an
 * entry past its retention) rather than to write it on the off chance, and one to be there at all.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as state from "../../../lib/state/status";
import { useStudio } from "../helpers";
import type { DownloadEntry, Status } from "../../../lib/state/status";

const studio = useStudio();

const statusFile = () => path.join(studio().studioDir, "state", "status.json");
const entry = (extra: Partial<DownloadEntry> = {}): DownloadEntry => ({ status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq: 1, queued_at: Date.now(), ...extra });

async function writeStatusText(text: string): Promise<void> {
  await mkdir(path.dirname(statusFile()), { recursive: true });
  await writeFile(statusFile(), text);
}

describe("inspectStatus", () => {
  it("says a file is corrupt when it reads only salvaged, and not when it is missing or sound", async () => {
    const missing = await state.inspectStatus(studio().config);
    await writeStatusText(JSON.stringify({ downloads: { "a.safetensors": entry(), "b.safetensors": { status: "flying" } }, metadata: {} }));
    const spoilt = await state.inspectStatus(studio().config);
    await writeStatusText(JSON.stringify({ downloads: { "a.safetensors": entry() }, metadata: {} }));
    const sound = await state.inspectStatus(studio().config);

    expect(missing).toEqual({ value: { downloads: {}, metadata: {} }, corrupt: false });
    expect(Object.keys(spoilt.value.downloads)).toEqual(["a.safetensors"]);
    expect(spoilt.corrupt).toBe(true);
    expect(sound.corrupt).toBe(false);
  });
});

describe("ensureStatus", () => {
  it("writes an empty file when there is none, and leaves one that is there alone", async () => {
    await state.ensureStatus(studio().config);
    const made = JSON.parse(await readFile(statusFile(), "utf8")) as unknown;
    await writeStatusText(JSON.stringify({ downloads: { "a.safetensors": entry() }, metadata: {} }));
    const before = await stat(statusFile());
    await state.ensureStatus(studio().config);

    expect(made).toEqual({ downloads: {}, metadata: {} });
    expect((await stat(statusFile())).ino).toBe(before.ino);
    expect(Object.keys((await state.readStatus(studio().config)).downloads)).toEqual(["a.safetensors"]);
  });
});

describe("hasExpired", () => {
  it("says whether an entry is past its retention, as the next write's pruning sees it", () => {
    const now = Date.now();
    const done = (age: number): Status => ({ downloads: { a: entry({ status: "done", finished_at: now - age }) }, metadata: {} });
    const failed = (age: number): Status => ({ downloads: { a: entry({ status: "error", finished_at: now - age }) }, metadata: {} });

    expect(state.hasExpired(done(state.DONE_RETENTION_MS + 1), now)).toBe(true);
    expect(state.hasExpired(done(state.DONE_RETENTION_MS - 1), now)).toBe(false);
    expect(state.hasExpired(failed(state.DONE_RETENTION_MS + 1), now)).toBe(false);
    expect(state.hasExpired(failed(state.ERROR_RETENTION_MS + 1), now)).toBe(true);
    expect(state.hasExpired({ downloads: { a: entry({ queued_at: now - state.ERROR_RETENTION_MS * 2 }) }, metadata: {} }, now)).toBe(false);
  });
});

describe("updateStatus after an older sidecar", () => {
  it("drops the heartbeat that sidecar kept in the file with the next write", async () => {
    await writeStatusText(JSON.stringify({ downloads: {}, metadata: {}, daemon: { pid: 12, heartbeat: 1, started_at: 1 } }));

    await state.updateStatus(studio().config, (status) => {
      status.downloads["a.safetensors"] = entry();
      return { result: undefined, changed: true };
    });

    const written = JSON.parse(await readFile(statusFile(), "utf8")) as Record<string, unknown>;
    expect(written).not.toHaveProperty("daemon");
    expect(Object.keys(written.downloads as object)).toEqual(["a.safetensors"]);
  });
});
