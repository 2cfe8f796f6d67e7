import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { hashCachePath, readHashCache } from "../../../lib/state/hash-cache";
import { readStatus, updateStatus } from "../../../lib/state/status";
import { hashEach, HashRecorder } from "../../../lib/volume/hashing";
import { JobProgress } from "../../../lib/volume/progress";
import { identityOf, type VolumeFile } from "../../../lib/volume/scan";
import { useStudio } from "../helpers";

const studio = useStudio();

beforeEach(async () => {
  await mkdir(studio().config.stateDir, { recursive: true });
});

const record = (n: number) => ({ bytes: n, mtime_ms: 1, sha256: n.toString(16).padStart(64, "0"), hashed_at: 2 });

const cacheWritten = () => stat(hashCachePath(studio().config)).then(() => true, () => false);

describe("hash records", () => {
  it("reach the cache a batch at a time, not one write each", async () => {
    const recorder = new HashRecorder(studio().config, { records: 100, ms: 60_000 });
    const seen = new Set<number>();
    const recorded = async () => Object.keys((await readHashCache(studio().config)).files).length;

    for (let n = 1; n <= 250; n++) {
      await recorder.add(`loras/${n}.safetensors`, record(n));
      seen.add(await recorded());
    }
    await recorder.flush();
    seen.add(await recorded());

    // none yet, then 100, 200, and the last 50 when flushed
    expect([...seen]).toEqual([0, 100, 200, 250]);
  });

  it("wait no longer than their time limit", async () => {
    const recorder = new HashRecorder(studio().config, { records: 1_000, ms: 50 });
    await recorder.add("a.safetensors", record(1));
    expect(await cacheWritten()).toBe(false);

    await new Promise((resolve) => setTimeout(resolve, 60));
    await recorder.add("b.safetensors", record(2));

    expect(Object.keys((await readHashCache(studio().config)).files).sort()).toEqual(["a.safetensors", "b.safetensors"]);
  });

  it("are read once for the names of one file, and recorded under each", async () => {
    const dir = path.join(studio().modelsDir, "loras");
    await mkdir(dir, { recursive: true });
    const full = path.join(dir, "a.safetensors");
    await writeFile(full, "the bytes");
    const s = await stat(full);
    const file = (name: string): VolumeFile => ({ path: `loras/${name}`, dest: "loras", file: name, full, bytes: s.size, mtimeMs: s.mtimeMs, identity: identityOf(s) });
    const hashed: string[] = [];

    await hashEach([file("a.safetensors"), file("b.safetensors")], {
      recorder: new HashRecorder(studio().config),
      signal: new AbortController().signal,
      onHashed: async (one, rec) => {
        hashed.push(`${one.path} ${rec.hashed_at}`);
      },
      onSkipped: async () => undefined,
    });

    expect(hashed).toHaveLength(2);
    // one read: one hashed_at for both names
    expect(new Set(hashed.map((line) => line.split(" ")[1])).size).toBe(1);
    expect(Object.keys((await readHashCache(studio().config)).files).sort()).toEqual(["loras/a.safetensors", "loras/b.safetensors"]);
  });
});

describe("a job's progress", () => {
  beforeEach(async () => {
    await updateStatus(studio().config, (status) => {
      status.identify = { status: "running", requested_at: 5, hashed: 0, total: 0, matched: 0 };
      return { result: undefined, changed: true };
    });
  });

  it("reaches the status file at most twice a second while it changes, and as it is at the end", async () => {
    const progress = new JobProgress(studio().config, "identify", 5, { hashed: 0, total: 1000, matched: 0 });
    const seen = new Set<number>();
    const started = Date.now();

    for (let hashed = 1; hashed <= 1000; hashed++) {
      await progress.set({ hashed });
      seen.add((await readStatus(studio().config)).identify!.hashed);
    }
    const elapsed = Date.now() - started;
    await progress.finish({ status: "done" });

    // a thousand changes: the first one written, then one each half second at most
    expect(seen.size).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 500));
    expect(seen.size).toBeLessThan(10);
    expect((await readStatus(studio().config)).identify).toMatchObject({ status: "done", hashed: 1000, total: 1000, finished_at: expect.any(Number) });
  });

  it("leaves alone a job the API replaced meanwhile", async () => {
    const progress = new JobProgress(studio().config, "identify", 4, { hashed: 0, total: 3, matched: 0 });

    await progress.finish({ status: "done" });

    expect((await readStatus(studio().config)).identify).toMatchObject({ status: "running", requested_at: 5, total: 0 });
  });
});
