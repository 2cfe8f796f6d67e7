import { lstat, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { catalogDoc, category, model, placeModelFile, rejection, useStudio, writeCatalog } from "../helpers";
import type { DownloadEntry } from "../../../lib/state/status";

const studio = useStudio();
let queue: typeof import("../../../lib/downloads/request");
let state: typeof import("../../../lib/state/status");

const FILES = ["a.safetensors", "b.safetensors", "c.safetensors", "d.safetensors", "e.safetensors"];

beforeEach(async () => {
  queue = await import("../../../lib/downloads/request");
  state = await import("../../../lib/state/status");
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  await writeCatalog(studio(), "models", catalogDoc([category("sd15", FILES.map((file) => model(file)))]));
  return () => vi.restoreAllMocks();
});

const target = (file: string) => path.join(studio().modelsDir, "checkpoints", file);
const downloads = async () => (await state.readStatus()).downloads;
const exists = (file: string) => lstat(file).then(() => true, () => false);

/** Puts an entry into the status file as the sidecar would, and its heartbeat, `beatAgoMs` old (none if undefined). */
async function plantEntry(file: string, extra: Partial<DownloadEntry>, beatAgoMs?: number): Promise<void> {
  await state.updateStatus((status, now) => {
    status.downloads[file] = { status: "downloading", bytes_downloaded: 10, bytes_total: 100, speed: 5, percent: 10, seq: 1, queued_at: now, ...extra };
    return { result: undefined, changed: true };
  });
  const now = Date.now();
  if (beatAgoMs !== undefined) await writeFile(path.join(studio().studioDir, "state", "sidecar.json"), JSON.stringify({ pid: 999_999, heartbeat: now - beatAgoMs, started_at: now - 60_000 }));
}

async function plantPartial(file: string): Promise<void> {
  await mkdir(path.dirname(target(file)), { recursive: true });
  await writeFile(`${target(file)}.part`, "partial bytes");
  await writeFile(`${target(file)}.part.json`, "{}");
}

describe("queueDownload", () => {
  it("queues a model that is not on disk", async () => {
    const answer = await queue.queueDownload("a.safetensors");

    expect(answer).toEqual({ status: "queued", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "queued", bytes_downloaded: 0, percent: 0, seq: 1 });
  });

  it('answers "downloading" for a model already queued, as the reference does, and keeps its place', async () => {
    await queue.queueDownload("a.safetensors");
    const before = (await downloads())["a.safetensors"];

    const answer = await queue.queueDownload("a.safetensors");

    expect(answer).toEqual({ status: "downloading", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]).toEqual(before);
  });

  it('answers "present" for a model on disk and queues nothing', async () => {
    await placeModelFile(studio(), "checkpoints", "a.safetensors");

    const answer = await queue.queueDownload("a.safetensors");

    expect(answer).toEqual({ status: "present", file: "a.safetensors" });
    expect(await downloads()).toEqual({});
  });

  it("answers 404 for a model that is not in the catalog", async () => {
    const error = await rejection(queue.queueDownload("nope.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'nope.safetensors' not found in catalog");
    expect(await downloads()).toEqual({});
  });

  it("queues again a model whose last download failed", async () => {
    await plantEntry("a.safetensors", { status: "error", error: "boom", seq: 7, finished_at: Date.now() });

    const answer = await queue.queueDownload("a.safetensors");

    expect(answer.status).toBe("queued");
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "queued", seq: 8 });
    expect((await downloads())["a.safetensors"]).not.toHaveProperty("error");
  });
});

describe("queueBatch", () => {
  it("queues the rest in order once each, skipping the unknown, the present and the active", async () => {
    await placeModelFile(studio(), "checkpoints", "d.safetensors");
    await queue.queueDownload("e.safetensors");

    const answer = await queue.queueBatch([
      "c.safetensors",
      "a.safetensors",
      "unknown.safetensors",
      "d.safetensors",
      "e.safetensors",
      "a.safetensors",
      "b.safetensors",
      "c.safetensors",
    ]);

    expect(answer.queued).toEqual(["c.safetensors", "a.safetensors", "b.safetensors"]);
    expect([...answer.skipped].sort()).toEqual(["d.safetensors", "e.safetensors", "unknown.safetensors"]);
    const now = await downloads();
    expect(Object.keys(now).sort()).toEqual(["a.safetensors", "b.safetensors", "c.safetensors", "e.safetensors"]);
    const seqs = ["e.safetensors", ...answer.queued].map((file) => now[file]?.seq ?? Number.NaN);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("queues nothing and writes nothing when everything is skipped", async () => {
    const answer = await queue.queueBatch(["unknown.safetensors"]);

    expect(answer).toEqual({ queued: [], skipped: ["unknown.safetensors"] });
    expect(await downloads()).toEqual({});
  });
});

describe("deleteModel", () => {
  it("cancels a queued download, removes its partial, and answers deleted with no file on disk", async () => {
    await queue.queueDownload("a.safetensors");
    await plantPartial("a.safetensors");

    const answer = await queue.deleteModel("a.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await downloads()).toEqual({});
    expect(await exists(`${target("a.safetensors")}.part`)).toBe(false);
    expect(await exists(`${target("a.safetensors")}.part.json`)).toBe(false);
  });

  it("deletes a model that is on disk, and forgets its finished download", async () => {
    const file = await placeModelFile(studio(), "checkpoints", "a.safetensors");
    await plantEntry("a.safetensors", { status: "done", finished_at: Date.now() });

    const answer = await queue.deleteModel("a.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await exists(file)).toBe(false);
    expect(await downloads()).toEqual({});
  });

  it("removes a symlink at the model's path and never its target outside the models folder", async () => {
    const outside = path.join(studio().root, "elsewhere", "precious.safetensors");
    await mkdir(path.dirname(outside), { recursive: true });
    await writeFile(outside, "precious bytes");
    await mkdir(path.dirname(target("a.safetensors")), { recursive: true });
    await symlink(outside, target("a.safetensors"));

    const answer = await queue.deleteModel("a.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await exists(target("a.safetensors"))).toBe(false);
    expect(await readFile(outside, "utf8")).toBe("precious bytes");
  });

  it("removes a dangling symlink at the model's path", async () => {
    await mkdir(path.dirname(target("a.safetensors")), { recursive: true });
    await symlink(path.join(studio().root, "gone.safetensors"), target("a.safetensors"));

    await queue.deleteModel("a.safetensors");

    expect(await exists(target("a.safetensors"))).toBe(false);
  });

  it("answers 404 when the model is neither on disk nor downloading", async () => {
    const error = await rejection(queue.deleteModel("a.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'a.safetensors' is not on disk");
  });

  it("answers 404 for a model that is not in the catalog", async () => {
    const error = await rejection(queue.deleteModel("nope.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'nope.safetensors' not found in catalog");
  });
});

describe("deleteModel after a failed download", () => {
  it("removes the partial it left and answers deleted", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("failed.safetensors", "checkpoints")])]));
    const part = await placeModelFile(studio(), "checkpoints", "failed.safetensors.part", 64);
    await writeFile(`${part.slice(0, -".part".length)}.part.json`, "{}");
    await state.updateStatus((status, now) => {
      status.downloads["failed.safetensors"] = { status: "error", error: "HTTP 500", bytes_downloaded: 32, bytes_total: 64, speed: 0, percent: 50, seq: 1, queued_at: now };
      return { result: undefined, changed: true };
    });

    const answer = await queue.deleteModel("failed.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "failed.safetensors" });
    await expect(lstat(part)).rejects.toThrow();
    await expect(lstat(`${part}.json`)).rejects.toThrow();
    expect((await state.readStatus()).downloads["failed.safetensors"]).toBeUndefined();
  });
});

describe("queueing beside a removal from the catalog", () => {
  // The status lock is held while both requests start, as a burst of other requests would hold it: the
  // queue has looked the model up and waits to write; the removal meanwhile finds nothing downloading.
  async function raceRemoval(enqueue: () => Promise<unknown>) {
    const { withFileLock } = await import("../../../lib/fs/lock");
    const { removeFromCatalog } = await import("../../../lib/catalog/remove");
    let queued!: Promise<PromiseSettledResult<unknown>>;
    let removed!: Promise<PromiseSettledResult<unknown>>;
    await withFileLock(state.statusPath(), async () => {
      queued = enqueue().then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      removed = removeFromCatalog("a.safetensors").then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    return { queued: await queued, removed: await removed };
  }

  const inCatalog = async () => (JSON.parse(await readFile(path.join(studio().catalogsDir, "models.json"), "utf8")) as { categories: { models: { file: string }[] }[] }).categories[0]!.models.some((m) => m.file === "a.safetensors");

  it.each([
    ["one download", () => queue.queueDownload("a.safetensors")],
    ["a batch", () => queue.queueBatch(["a.safetensors"])],
  ])("never leaves %s queued for a model the catalog no longer has", async (_, enqueue) => {
    const { queued, removed } = await raceRemoval(enqueue);

    // in some order: queued, then the removal refused (409); or removed, then nothing to queue
    const entry = (await downloads())["a.safetensors"];
    if (removed.status === "fulfilled") {
      expect(entry).toBeUndefined();
      expect(await inCatalog()).toBe(false);
    } else {
      expect((removed.reason as Error).name).toBe("ConflictError");
      expect(queued.status).toBe("fulfilled");
      expect(entry?.status).toBe("queued");
      expect(await inCatalog()).toBe(true);
    }
  });
});

describe("deleteModel beside another delete of the same download", () => {
  it("answers deleted once and 'not on disk' to the one that only waited for the same cancel", async () => {
    await plantEntry("a.safetensors", { status: "downloading" }, 0);
    await plantPartial("a.safetensors");
    // the sidecar, once asked: removes the partial, then the entry
    const sidecar = (async () => {
      while (!(await downloads())["a.safetensors"]?.cancel) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await rm(`${target("a.safetensors")}.part.json`, { force: true });
      await rm(`${target("a.safetensors")}.part`, { force: true });
      await state.updateStatus((status) => {
        delete status.downloads["a.safetensors"];
        return { result: undefined, changed: true };
      });
    })();

    const answers = await Promise.allSettled([queue.deleteModel("a.safetensors"), queue.deleteModel("a.safetensors")]);
    await sidecar;

    const fulfilled = answers.filter((a) => a.status === "fulfilled");
    const rejected = answers.flatMap((a) => (a.status === "rejected" ? [a.reason as { name?: string; detail?: unknown }] : []));
    expect(fulfilled).toHaveLength(1);
    expect(rejected.map((e) => [e.name, e.detail])).toEqual([["NotFoundError", "Model 'a.safetensors' is not on disk"]]);
  });
});

describe("deleteModel when the model's folder becomes a link out of the models folder while its download stops", () => {
  it("answers 409 and removes nothing through the link", async () => {
    await plantEntry("a.safetensors", { status: "downloading" }, 0);
    await plantPartial("a.safetensors");
    const outside = path.join(studio().root, "outside");
    await mkdir(outside, { recursive: true });
    const precious = ["a.safetensors", "a.safetensors.part", "a.safetensors.part.json"];
    for (const name of precious) await writeFile(path.join(outside, name), "not ours");
    // the sidecar, once asked, stops; meanwhile someone moves the folder to another disk and links it
    const sidecar = (async () => {
      while (!(await downloads())["a.safetensors"]?.cancel) await new Promise((resolve) => setTimeout(resolve, 20));
      await rm(path.dirname(target("a.safetensors")), { recursive: true });
      await symlink(outside, path.dirname(target("a.safetensors")));
      await state.updateStatus((status) => {
        delete status.downloads["a.safetensors"];
        return { result: undefined, changed: true };
      });
    })();

    const error = await rejection(queue.deleteModel("a.safetensors"));
    await sidecar;

    expect(error.name).toBe("ConflictError");
    expect(error.detail).toBe("'checkpoints' leads outside the models folder through a link; refusing to touch 'a.safetensors' there");
    for (const name of precious) expect(await readFile(path.join(outside, name), "utf8")).toBe("not ours");
  });
});
