import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { DownloadQueue } from "../../../lib/downloads/worker";
import * as state from "../../../lib/state/status";
import { catalogDoc, category, model, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

async function breakCatalog(): Promise<void> {
  await mkdir(studio().catalogsDir, { recursive: true });
  await writeFile(path.join(studio().catalogsDir, "models.json"), '{"version": 21, "categories": [');
}

const queued = (file: string, extra: Record<string, unknown> = {}) =>
  state.updateStatus(studio().config, (status, now) => {
    status.downloads[file] = { status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq: 1, queued_at: now, ...extra };
    return { result: undefined, changed: true };
  });

describe("the sidecar's download queue on a catalog that does not parse", () => {
  it("leaves what is queued queued, and says why once", async () => {
    await breakCatalog();
    await queued("a.safetensors");
    const lines: string[] = [];
    const queue = new DownloadQueue(studio(), (line) => lines.push(line));

    await queue.tick();
    await queue.tick();

    expect(queue.size).toBe(0);
    expect((await state.readStatus(studio().config)).downloads["a.safetensors"]?.status).toBe("queued");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^queued downloads wait until the catalog is fixed: Catalog .*models\.json is not valid JSON/);
  });

  it("still recovers after a crash, so that the sidecar starts", async () => {
    await breakCatalog();
    await queued("a.safetensors", { status: "downloading" });
    await queued("b.safetensors", { status: "downloading", cancel: true });
    const lines: string[] = [];
    const queue = new DownloadQueue(studio(), (line) => lines.push(line));

    await queue.recover();

    const { downloads } = await state.readStatus(studio().config);
    expect(downloads["a.safetensors"]?.status).toBe("queued");
    expect(downloads["b.safetensors"]).toBeUndefined();
    expect(lines[0]).toMatch(/^could not read the catalog: Catalog .*models\.json is not valid JSON/);
  });
});

describe("the sidecar's recovery of a download cancelled before it died", () => {
  const partials = (dir: string, file: string) => [`${file}.part`, `${file}.part.json`].map((name) => path.join(dir, name));
  const plant = async (files: string[]) => {
    for (const file of files) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, "not ours");
    }
  };

  it("removes its partial in the models folder", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sd15", [model("a.safetensors", "checkpoints")])]));
    const left = partials(path.join(studio().modelsDir, "checkpoints"), "a.safetensors");
    await plant(left);
    await queued("a.safetensors", { status: "downloading", cancel: true });
    const queue = new DownloadQueue(studio(), () => undefined);

    await queue.recover();

    for (const file of left) expect(await lstat(file).catch(() => undefined)).toBeUndefined();
    expect((await state.readStatus(studio().config)).downloads["a.safetensors"]).toBeUndefined();
  });

  it("removes nothing through a folder that links out of the models folder, and says so", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sd15", [model("a.safetensors", "linked/deeper")])]));
    const outside = path.join(studio().root, "outside");
    const precious = partials(path.join(outside, "deeper"), "a.safetensors");
    await plant(precious);
    await mkdir(studio().modelsDir, { recursive: true });
    await symlink(outside, path.join(studio().modelsDir, "linked"));
    await queued("a.safetensors", { status: "downloading", cancel: true });
    const lines: string[] = [];
    const queue = new DownloadQueue(studio(), (line) => lines.push(line));

    await queue.recover();

    for (const file of precious) expect(await readFile(file, "utf8")).toBe("not ours");
    expect((await state.readStatus(studio().config)).downloads["a.safetensors"]).toBeUndefined();
    expect(lines).toEqual([
      "a.safetensors: cancelled before the restart; partial data not removed: 'linked/deeper' leads outside the models folder through a link; refusing to touch 'a.safetensors' there",
    ]);
  });
});

describe("the sidecar's download queue with nothing running", () => {
  const statusFile = () => path.join(studio().studioDir, "state", "status.json");
  const idleQueue = () => new DownloadQueue(studio(), () => undefined);
  const finishedAgo = (ms: number) => ({ status: "done", percent: 100, finished_at: Date.now() - ms });

  it("looks and writes nothing: the status file stays as it was", async () => {
    await queued("a.safetensors", finishedAgo(60_000));
    const before = await stat(statusFile());
    const queue = idleQueue();

    for (let round = 0; round < 3; round++) {
      await queue.tick();
      await queue.writeProgress();
    }

    const after = await stat(statusFile());
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it("drops a finished download once past its retention, in one write", async () => {
    await queued("a.safetensors", finishedAgo(state.DONE_RETENTION_MS + 1_000));
    await queued("b.safetensors", finishedAgo(60_000));
    const queue = idleQueue();

    await queue.tick();
    await queue.writeProgress();
    const pruned = await stat(statusFile());
    await queue.tick();
    await queue.writeProgress();

    expect(Object.keys((await state.readStatus(studio().config)).downloads)).toEqual(["b.safetensors"]);
    expect((await stat(statusFile())).ino).toBe(pruned.ino);
  });

  it("repairs a status file spoilt by hand, keeping what was good of it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await queued("a.safetensors", finishedAgo(60_000));
    const spoilt = JSON.parse(await readFile(statusFile(), "utf8")) as { downloads: Record<string, unknown> };
    spoilt.downloads["b.safetensors"] = { status: "flying" };
    await writeFile(statusFile(), JSON.stringify(spoilt));
    const queue = idleQueue();

    await queue.tick();
    await queue.writeProgress();

    const repaired = JSON.parse(await readFile(statusFile(), "utf8")) as { downloads: Record<string, unknown> };
    expect(Object.keys(repaired.downloads)).toEqual(["a.safetensors"]);
    expect((await readdir(path.dirname(statusFile()))).filter((name) => name.startsWith("status.json.corrupt-"))).toHaveLength(1);
    vi.restoreAllMocks();
  });
});
