/** lib/downloads/request.ts beside other requests on the same model: a removal, another delete, a link. */
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { removeFromCatalog } from "../../../lib/catalog/remove";
import * as queue from "../../../lib/downloads/request";
import { withFileLock } from "../../../lib/fs/lock";
import * as state from "../../../lib/state/status";
import { rejection } from "../helpers";
import { useDownloadsStudio } from "./request-fixture";

const { studio, target, plantPartial, downloads, plantEntry } = useDownloadsStudio();

describe("queueing beside a removal from the catalog", () => {
  // The status lock is held while both requests start, as a burst of other requests would hold it: the
  // queue has looked the model up and waits to write; the removal meanwhile finds nothing downloading.
  async function raceRemoval(enqueue: () => Promise<unknown>) {
    let queued!: Promise<PromiseSettledResult<unknown>>;
    let removed!: Promise<PromiseSettledResult<unknown>>;
    await withFileLock(state.statusPath(studio().config), async () => {
      queued = enqueue().then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      removed = removeFromCatalog(studio(), "a.safetensors").then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    return { queued: await queued, removed: await removed };
  }

  const inCatalog = async () => (JSON.parse(await readFile(path.join(studio().catalogsDir, "models.json"), "utf8")) as { categories: { models: { file: string }[] }[] }).categories[0]!.models.some((m) => m.file === "a.safetensors");

  it.each([
    ["one download", () => queue.queueDownload(studio(), "a.safetensors")],
    ["a batch", () => queue.queueBatch(studio(), ["a.safetensors"])],
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

describe("queueing beside a download that finishes meanwhile", () => {
  // The status lock is held while the request looks at the disk (the model is not there yet) and waits to
  // write; meanwhile the sidecar's download of it ends: the file appears and its entry says done.
  async function finishWhileQueueing<T>(enqueue: () => Promise<T>): Promise<T> {
    await plantEntry("a.safetensors", { status: "downloading", seq: 4 }, 0);
    let answer!: Promise<T>;
    await withFileLock(state.statusPath(studio().config), async (lease) => {
      answer = enqueue();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await mkdir(path.dirname(target("a.safetensors")), { recursive: true });
      await writeFile(target("a.safetensors"), "model bytes");
      const status = await state.readStatus(studio().config);
      const now = Date.now();
      status.downloads["a.safetensors"] = { ...status.downloads["a.safetensors"]!, status: "done", percent: 100, speed: 0, finished_at: now };
      await lease.write(JSON.stringify(status));
    });
    return answer;
  }

  it("answers present to one download, and does not download the model again", async () => {
    expect(await finishWhileQueueing(() => queue.queueDownload(studio(), "a.safetensors"))).toEqual({ status: "present", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]?.status).toBe("done");
  });

  it("skips it in a batch, and does not download the model again", async () => {
    expect(await finishWhileQueueing(() => queue.queueBatch(studio(), ["a.safetensors", "b.safetensors"]))).toEqual({
      queued: ["b.safetensors"],
      skipped: ["a.safetensors"],
    });
    expect((await downloads())["a.safetensors"]?.status).toBe("done");
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
      await state.updateStatus(studio().config, (status) => {
        delete status.downloads["a.safetensors"];
        return { result: undefined, changed: true };
      });
    })();

    const answers = await Promise.allSettled([queue.deleteModel(studio(), "a.safetensors"), queue.deleteModel(studio(), "a.safetensors")]);
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
      await state.updateStatus(studio().config, (status) => {
        delete status.downloads["a.safetensors"];
        return { result: undefined, changed: true };
      });
    })();

    const error = await rejection(queue.deleteModel(studio(), "a.safetensors"));
    await sidecar;

    expect(error.name).toBe("ConflictError");
    expect(error.detail).toBe("'checkpoints' leads outside the models folder through a link; refusing to touch 'a.safetensors' there");
    for (const name of precious) expect(await readFile(path.join(outside, name), "utf8")).toBe("not ours");
  });
});
