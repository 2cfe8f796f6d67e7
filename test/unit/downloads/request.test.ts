import { lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as queue from "../../../lib/downloads/request";
import * as state from "../../../lib/state/status";
import { catalogDoc, category, model, placeModelFile, rejection, writeCatalog } from "../helpers";
import { exists, useDownloadsStudio } from "./request-fixture";

const { studio, target, plantPartial, downloads, plantEntry } = useDownloadsStudio();

describe("queueDownload", () => {
  it("queues a model that is not on disk", async () => {
    const answer = await queue.queueDownload(studio(), "a.safetensors");

    expect(answer).toEqual({ status: "queued", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "queued", bytes_downloaded: 0, percent: 0, seq: 1 });
  });

  it('answers "downloading" for a model already queued, as the reference does, and keeps its place', async () => {
    await queue.queueDownload(studio(), "a.safetensors");
    const before = (await downloads())["a.safetensors"];

    const answer = await queue.queueDownload(studio(), "a.safetensors");

    expect(answer).toEqual({ status: "downloading", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]).toEqual(before);
  });

  it('answers "present" for a model on disk and queues nothing', async () => {
    await placeModelFile(studio(), "checkpoints", "a.safetensors");

    const answer = await queue.queueDownload(studio(), "a.safetensors");

    expect(answer).toEqual({ status: "present", file: "a.safetensors" });
    expect(await downloads()).toEqual({});
  });

  it("answers 404 for a model that is not in the catalog", async () => {
    const error = await rejection(queue.queueDownload(studio(), "nope.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'nope.safetensors' not found in catalog");
    expect(await downloads()).toEqual({});
  });

  it("queues again a model whose last download failed", async () => {
    await plantEntry("a.safetensors", { status: "error", error: "boom", seq: 7, finished_at: Date.now() });

    const answer = await queue.queueDownload(studio(), "a.safetensors");

    expect(answer.status).toBe("queued");
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "queued", seq: 8 });
    expect((await downloads())["a.safetensors"]).not.toHaveProperty("error");
  });
});

describe("queueBatch", () => {
  it("queues the rest in order once each, skipping the unknown, the present and the active", async () => {
    await placeModelFile(studio(), "checkpoints", "d.safetensors");
    await queue.queueDownload(studio(), "e.safetensors");

    const answer = await queue.queueBatch(studio(), [
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
    const answer = await queue.queueBatch(studio(), ["unknown.safetensors"]);

    expect(answer).toEqual({ queued: [], skipped: ["unknown.safetensors"] });
    expect(await downloads()).toEqual({});
  });
});

describe("deleteModel", () => {
  it("cancels a queued download, removes its partial, and answers deleted with no file on disk", async () => {
    await queue.queueDownload(studio(), "a.safetensors");
    await plantPartial("a.safetensors");

    const answer = await queue.deleteModel(studio(), "a.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await downloads()).toEqual({});
    expect(await exists(`${target("a.safetensors")}.part`)).toBe(false);
    expect(await exists(`${target("a.safetensors")}.part.json`)).toBe(false);
  });

  it.each([
    ["no sidecar ever ran", undefined],
    ["the sidecar's heartbeat is stale", 60_000],
  ])("clears a download left 'downloading' when %s, without waiting for a sidecar", async (_why, beatAgoMs) => {
    // the reference: the same delete of a queued download, which nothing can make wait
    await queue.queueDownload(studio(), "b.safetensors");
    await plantPartial("b.safetensors");
    const referenceStart = Date.now();
    await queue.deleteModel(studio(), "b.safetensors");
    const reference = Date.now() - referenceStart;
    await plantEntry("a.safetensors", { status: "downloading" }, beatAgoMs);
    await plantPartial("a.safetensors");
    const started = Date.now();

    const answer = await queue.deleteModel(studio(), "a.safetensors");
    const took = Date.now() - started;

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    // asking a sidecar to let go would add its wait (up to 5 s of timers, which load does not shorten) to
    // what load makes of the reference; twice the reference and half a second is far below that
    expect(took).toBeLessThan(2 * reference + 500);
    expect(await downloads()).toEqual({});
    expect(await exists(`${target("a.safetensors")}.part`)).toBe(false);
  });

  it("deletes a model that is on disk, and forgets its finished download", async () => {
    const file = await placeModelFile(studio(), "checkpoints", "a.safetensors");
    await plantEntry("a.safetensors", { status: "done", finished_at: Date.now() });

    const answer = await queue.deleteModel(studio(), "a.safetensors");

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

    const answer = await queue.deleteModel(studio(), "a.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await exists(target("a.safetensors"))).toBe(false);
    expect(await readFile(outside, "utf8")).toBe("precious bytes");
  });

  it("removes a dangling symlink at the model's path", async () => {
    await mkdir(path.dirname(target("a.safetensors")), { recursive: true });
    await symlink(path.join(studio().root, "gone.safetensors"), target("a.safetensors"));

    await queue.deleteModel(studio(), "a.safetensors");

    expect(await exists(target("a.safetensors"))).toBe(false);
  });

  it("answers 404 when the model is neither on disk nor downloading", async () => {
    const error = await rejection(queue.deleteModel(studio(), "a.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'a.safetensors' is not on disk");
  });

  it("answers 404 for a model that is not in the catalog", async () => {
    const error = await rejection(queue.deleteModel(studio(), "nope.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'nope.safetensors' not found in catalog");
  });
});

describe("deleteModel after a failed download", () => {
  it("removes the partial it left and answers deleted", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("failed.safetensors", "checkpoints")])]));
    const part = await placeModelFile(studio(), "checkpoints", "failed.safetensors.part", 64);
    await writeFile(`${part.slice(0, -".part".length)}.part.json`, "{}");
    await state.updateStatus(studio().config, (status, now) => {
      status.downloads["failed.safetensors"] = { status: "error", error: "HTTP 500", bytes_downloaded: 32, bytes_total: 64, speed: 0, percent: 50, seq: 1, queued_at: now };
      return { result: undefined, changed: true };
    });

    const answer = await queue.deleteModel(studio(), "failed.safetensors");

    expect(answer).toEqual({ status: "deleted", file: "failed.safetensors" });
    await expect(lstat(part)).rejects.toThrow();
    await expect(lstat(`${part}.json`)).rejects.toThrow();
    expect((await state.readStatus(studio().config)).downloads["failed.safetensors"]).toBeUndefined();
  });
});
