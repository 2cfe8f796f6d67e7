import { mkdir, readFile, readdir, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as state from "../../../lib/state/status";
import { useStudio } from "../helpers";
import type { DownloadEntry, Status } from "../../../lib/state/status";

const studio = useStudio();

beforeEach(() => {
  return () => vi.restoreAllMocks();
});

const stateDir = () => path.join(studio().studioDir, "state");
const statusFile = () => path.join(stateDir(), "status.json");

const entry = (extra: Partial<DownloadEntry> = {}): DownloadEntry => ({
  status: "queued",
  bytes_downloaded: 0,
  bytes_total: 0,
  speed: 0,
  percent: 0,
  seq: 1,
  queued_at: Date.now(),
  ...extra,
});

async function writeStatusText(text: string): Promise<void> {
  await mkdir(stateDir(), { recursive: true });
  await writeFile(statusFile(), text);
}

const readStatusFile = async (): Promise<Status> => JSON.parse(await readFile(statusFile(), "utf8")) as Status;

const addEntry = (file: string, extra: Partial<DownloadEntry> = {}) =>
  state.updateStatus(studio().config, (status) => {
    status.downloads[file] = entry(extra);
    return { result: file, changed: true };
  });

describe("readStatus", () => {
  it("reads a missing status file as no downloads and no metadata", async () => {
    const status = await state.readStatus(studio().config);

    expect(status).toEqual({ downloads: {}, metadata: {} });
  });

  it("reads a corrupt file as empty and leaves it where it is", async () => {
    await writeStatusText("{ not json");

    const status = await state.readStatus(studio().config);

    expect(status).toEqual({ downloads: {}, metadata: {} });
    expect(await readFile(statusFile(), "utf8")).toBe("{ not json");
    expect(await readdir(stateDir())).toEqual(["status.json"]);
  });
});

describe("updateStatus", () => {
  it("writes the change and returns the change's result", async () => {
    const result = await state.updateStatus(studio().config, (status) => {
      status.downloads["a.safetensors"] = entry({ seq: 4 });
      return { result: { answer: 42 }, changed: true };
    });

    expect(result).toEqual({ answer: 42 });
    expect((await readStatusFile()).downloads["a.safetensors"]).toMatchObject({ status: "queued", seq: 4 });
    expect((await state.readStatus(studio().config)).downloads["a.safetensors"]?.seq).toBe(4);
  });

  it("replaces the file by a rename and leaves no temp file or lock behind", async () => {
    await addEntry("a.safetensors");
    const before = await stat(statusFile());

    await addEntry("b.safetensors");

    const after = await stat(statusFile());
    expect(after.ino).not.toBe(before.ino);
    expect(await readdir(stateDir())).toEqual(["status.json"]);
    expect(Object.keys((await readStatusFile()).downloads).sort()).toEqual(["a.safetensors", "b.safetensors"]);
  });

  it("leaves the file untouched when the change says nothing changed", async () => {
    await addEntry("a.safetensors");
    const past = new Date("2020-01-01T00:00:00Z");
    await utimes(statusFile(), past, past);
    const before = await stat(statusFile());
    const content = await readFile(statusFile(), "utf8");

    const result = await state.updateStatus(studio().config, (status) => {
      status.downloads["ignored.safetensors"] = entry();
      return { result: "nothing", changed: false };
    });

    const after = await stat(statusFile());
    expect(result).toBe("nothing");
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(await readFile(statusFile(), "utf8")).toBe(content);
  });

  it("does not create the file when nothing changed and there was none", async () => {
    await state.updateStatus(studio().config, () => ({ result: undefined, changed: false }));

    await expect(stat(statusFile())).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("removes the temp file a writer killed before its rename left", async () => {
    await writeStatusText("{}");
    await writeFile(path.join(stateDir(), `.status.json.999999.0badc0de.tmp`), '{"downloads": {');

    await addEntry("a.safetensors");

    expect(await readdir(stateDir())).toEqual(["status.json"]);
  });

  describe("on a corrupt status file", () => {
    const corruptFiles = async (): Promise<string[]> =>
      (await readdir(stateDir())).filter((name) => name.startsWith("status.json.corrupt-"));

    it.each([
      ["text that is not JSON", '{"downloads": {"a.safetensors": {"status": "queu'],
      ["JSON of the wrong shape", JSON.stringify({ downloads: { "a.safetensors": { status: "flying" } } })],
      ["JSON that is not an object", "[1, 2, 3]"],
    ])("moves %s aside with its bytes, logs it, and starts a new file with the change", async (_what, text) => {
      const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
      await writeStatusText(text);

      const result = await addEntry("new.safetensors");

      expect(result).toBe("new.safetensors");
      const aside = await corruptFiles();
      expect(aside).toHaveLength(1);
      expect(aside[0]).toMatch(/^status\.json\.corrupt-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
      expect(await readFile(path.join(stateDir(), aside[0] as string), "utf8")).toBe(text);
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain(aside[0]);
      const rebuilt = await readStatusFile();
      expect(Object.keys(rebuilt.downloads)).toEqual(["new.safetensors"]);
      expect(rebuilt.metadata).toEqual({});
    });

    it("keeps the good entries of a file that one bad entry spoils, and moves the file aside", async () => {
      const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
      const text = JSON.stringify({
        downloads: { "good.safetensors": entry({ seq: 3 }), "bad.safetensors": { status: "flying" } },
        metadata: { "m.safetensors": { status: "done" }, "n.safetensors": "nonsense" },
        // where an older sidecar kept its heartbeat: it lives in sidecar.json now
        daemon: { pid: 12, heartbeat: 1, started_at: 1 },
      });
      await writeStatusText(text);

      expect(Object.keys((await state.readStatus(studio().config)).downloads)).toEqual(["good.safetensors"]);
      await addEntry("new.safetensors");

      const rebuilt = await readStatusFile();
      expect(Object.keys(rebuilt.downloads)).toEqual(["good.safetensors", "new.safetensors"]);
      expect(rebuilt.downloads["good.safetensors"]?.seq).toBe(3);
      expect(rebuilt.metadata).toEqual({ "m.safetensors": { status: "done" } });
      expect(rebuilt).not.toHaveProperty("daemon");
      const aside = await corruptFiles();
      expect(await readFile(path.join(stateDir(), aside[0] as string), "utf8")).toBe(text);
      expect(String(logged.mock.calls[0]?.[0])).toMatch(/downloads\.bad\.safetensors\.status: .*with the entries that were still good/);
    });

    it("keeps the identify and verify jobs of a file that one bad entry spoils", async () => {
      vi.spyOn(console, "error").mockImplementation(() => undefined);
      const identify = { status: "running", requested_at: 1, hashed: 2, total: 9, matched: 1, cancel: true };
      await writeStatusText(JSON.stringify({ downloads: { "bad.safetensors": { status: "flying" } }, identify, verify: { status: "nonsense" } }));

      await addEntry("new.safetensors");

      const rebuilt = await readStatusFile();
      expect(rebuilt.identify).toEqual(identify);
      expect(rebuilt).not.toHaveProperty("verify");
    });

    it("never leaves the path without a file while it repairs", async () => {
      vi.spyOn(console, "error").mockImplementation(() => undefined);
      const missing: number[] = [];
      for (let round = 0; round < 20; round++) {
        await writeStatusText("{ not json");
        let repairing = true;
        const reader = (async () => {
          while (repairing) await readFile(statusFile(), "utf8").catch(() => missing.push(round));
        })();
        await addEntry(`a${round}.safetensors`);
        repairing = false;
        await reader;
      }

      expect(missing).toEqual([]);
      expect(await corruptFiles()).toHaveLength(20);
    });

    it("replaces a corrupt file even when the change itself changes nothing", async () => {
      vi.spyOn(console, "error").mockImplementation(() => undefined);
      await writeStatusText("garbage");

      await state.updateStatus(studio().config, () => ({ result: undefined, changed: false }));

      expect(await corruptFiles()).toHaveLength(1);
      expect(await readStatusFile()).toEqual({ downloads: {}, metadata: {} });
    });
  });

  describe("pruning", () => {
    it("drops done and error entries past their retention on the next update and keeps younger ones", async () => {
      const now = Date.now();
      const minute = 60_000;
      const doc: Status = {
        downloads: {
          "old-done": entry({ status: "done", finished_at: now - state.DONE_RETENTION_MS - minute }),
          "young-done": entry({ status: "done", finished_at: now - state.DONE_RETENTION_MS + 10 * minute }),
          "old-error": entry({ status: "error", error: "boom", finished_at: now - state.ERROR_RETENTION_MS - minute }),
          // older than a done entry may live, younger than an error one may
          "young-error": entry({ status: "error", error: "boom", finished_at: now - state.DONE_RETENTION_MS - minute }),
          "old-queued": entry({ status: "queued", queued_at: now - state.ERROR_RETENTION_MS - minute }),
        },
        metadata: {},
      };
      await writeStatusText(JSON.stringify(doc));

      await state.updateStatus(studio().config, () => ({ result: undefined, changed: false }));

      expect(Object.keys((await readStatusFile()).downloads).sort()).toEqual(["old-queued", "young-done", "young-error"]);
    });

    it("does not prune on read", async () => {
      const finished_at = Date.now() - state.ERROR_RETENTION_MS - 60_000;
      await writeStatusText(JSON.stringify({ downloads: { old: entry({ status: "done", finished_at }) }, metadata: {} }));

      expect(Object.keys((await state.readStatus(studio().config)).downloads)).toEqual(["old"]);
    });
  });

  it("applies every one of 40 concurrent changes, and readers always see a whole file", async () => {
    const files = Array.from({ length: 40 }, (_, i) => `model-${i}.safetensors`);
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) {
        const text = await readFile(statusFile(), "utf8").catch(() => undefined);
        if (text !== undefined) reads.push(text);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    const results = await Promise.all(files.map((file, i) => addEntry(file, { seq: i + 1 })));
    writing = false;
    await reader;

    expect(results).toEqual(files);
    const downloads = (await readStatusFile()).downloads;
    expect(Object.keys(downloads).sort()).toEqual([...files].sort());
    expect(files.map((file) => downloads[file]?.seq)).toEqual(files.map((_, i) => i + 1));
    expect(reads.length).toBeGreaterThan(0);
    for (const text of reads) expect(() => JSON.parse(text)).not.toThrow();
  });
});

describe("isActive", () => {
  it.each([
    ["queued", true],
    ["downloading", true],
    ["paused", true],
    ["done", false],
    ["error", false],
  ] as const)("says %s is active: %s", (status, active) => {
    expect(state.isActive(entry({ status }))).toBe(active);
  });

  it("says no entry is not active", () => {
    expect(state.isActive(undefined)).toBe(false);
  });
});
