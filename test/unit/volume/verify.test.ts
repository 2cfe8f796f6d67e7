import { createHash } from "node:crypto";
import { open, readFile, stat, utimes } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { listModels } from "../../../lib/catalog/list-models";
import { readHashCache, recordHashes } from "../../../lib/state/hash-cache";
import { readActivity } from "../../../lib/state/activity-log";
import { readStatus, updateStatus } from "../../../lib/state/status";
import { catalogDoc, category, model, writeCatalog } from "../helpers";
import { useJobs } from "./jobs-harness";

const jobs = useJobs(7);

const sha256Of = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

/** Flips one byte of `file` in place, keeping its size and its mtime: what bit rot does. */
async function flipByte(file: string, at = 100): Promise<void> {
  const { atime, mtime } = await stat(file);
  const handle = await open(file, "r+");
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0xff;
  await handle.write(byte, 0, 1, at);
  await handle.close();
  await utimes(file, atime, mtime);
}

type Listed = { file: string; status: string; verified?: boolean; error?: string };
const listed = async (): Promise<Listed[]> =>
  ((await listModels(jobs.studio())).categories as { models: Listed[] }[]).flatMap((c) => c.models);

/** Three models on disk with their catalog sha256 (one of them also in loras.json), one without, one not on disk. */
async function threeModels(): Promise<Record<string, string>> {
  const files = {
    good: await jobs.put("checkpoints/good.safetensors", "m/good"),
    rotten: await jobs.put("checkpoints/rotten.safetensors", "m/rotten"),
    lora: await jobs.put("loras/lora.safetensors", "m/lora"),
    plain: await jobs.put("checkpoints/plain.safetensors", "m/plain"),
  };
  const entry = async (name: keyof typeof files, dest: string) =>
    model(`${name}.safetensors`, dest, { sha256: (await sha256Of(files[name])).toUpperCase() });
  await writeCatalog(
    jobs.studio(),
    "models",
    catalogDoc([
      category("c", [
        await entry("good", "checkpoints"),
        await entry("rotten", "checkpoints"),
        model("plain.safetensors", "checkpoints"),
        model("absent.safetensors", "checkpoints", { sha256: "c".repeat(64) }),
      ]),
    ]),
  );
  await writeCatalog(jobs.studio(), "loras", catalogDoc([category("l", [await entry("lora", "loras")])]));
  return files;
}

describe("verify", () => {
  it("re-reads every present catalog file that has a sha256 and catches a flipped byte", async () => {
    const files = await threeModels();
    expect(await jobs.run("verify")).toMatchObject({ status: "done", hashed: 3, total: 3, verified: 3, damaged: 0 });
    expect((await listed()).find((m) => m.file === "rotten.safetensors")?.verified).toBe(true);
    // bit rot: the hash cached a moment ago still matches the size and mtime, and a verify reads again anyway
    await flipByte(files.rotten!);

    const job = await jobs.run("verify");

    expect(job).toMatchObject({ status: "done", hashed: 3, total: 3, verified: 2, damaged: 1 });
    const cache = await readHashCache(jobs.studio().config);
    expect(cache.files["checkpoints/rotten.safetensors"]?.sha256).toBe(await sha256Of(files.rotten!));
    expect(cache.files["checkpoints/rotten.safetensors"]?.verified_at).toEqual(expect.any(Number));
    const models = await listed();
    expect(models.find((m) => m.file === "good.safetensors")).toMatchObject({ status: "present", verified: true });
    expect(models.find((m) => m.file === "good.safetensors")).not.toHaveProperty("error");
    const rotten = models.find((m) => m.file === "rotten.safetensors")!;
    const wanted = await readCatalogSha("rotten.safetensors");
    expect(rotten).toMatchObject({
      status: "present",
      verified: false,
      error: `The file is damaged: its SHA256 is ${await sha256Of(files.rotten!)}, the catalog says ${wanted}. Delete it and download it again.`,
    });
    expect(models.find((m) => m.file === "plain.safetensors")).not.toHaveProperty("verified");
    expect(models.find((m) => m.file === "absent.safetensors")).not.toHaveProperty("verified");
    const log = (await readActivity(jobs.studio().config)).map((entry) => `${entry.level} ${entry.message}`);
    expect(log).toContain(`error Verify: checkpoints/rotten.safetensors is damaged: its SHA256 is ${await sha256Of(files.rotten!)}, the catalog says ${wanted}`);
    expect(log).toContain("error Verify: done: 2 of 3 files intact, 1 damaged");
  });

  it("reads only the named files when asked for some", async () => {
    await threeModels();

    const job = await jobs.run("verify", ["good.safetensors"]);

    expect(job).toMatchObject({ status: "done", hashed: 1, total: 1, verified: 1, damaged: 0 });
    const models = await listed();
    expect(models.find((m) => m.file === "good.safetensors")?.verified).toBe(true);
    expect(models.find((m) => m.file === "rotten.safetensors")).not.toHaveProperty("verified");

    // the files are as they were: only the hash cache tells the listing that changed
    await jobs.run("verify", ["rotten.safetensors"]);

    expect((await listed()).find((m) => m.file === "rotten.safetensors")?.verified).toBe(true);
  });

  it("says nothing of a file changed since its verify", async () => {
    const files = await threeModels();
    await jobs.run("verify");
    expect((await listed()).find((m) => m.file === "good.safetensors")?.verified).toBe(true);

    await utimes(files.good!, new Date(), new Date(Date.now() + 60_000));

    expect((await listed()).find((m) => m.file === "good.safetensors")).not.toHaveProperty("verified");
  });

  it("goes on after a restart of the sidecar without reading again what it verified already", async () => {
    const files = await threeModels();
    // the run was asked for, and had verified `good` when its sidecar stopped
    await updateStatus(jobs.studio().config, (status, now) => {
      status.verify = { status: "running", requested_at: now - 1, hashed: 1, total: 3, verified: 1, damaged: 0 };
      return { result: undefined, changed: true };
    });
    const { mtimeMs, size } = await stat(files.good!);
    const goodSha = await sha256Of(files.good!);
    await recordHashes(jobs.studio().config, new Map([["checkpoints/good.safetensors", { bytes: size, mtime_ms: mtimeMs, sha256: goodSha, hashed_at: Date.now(), verified_at: Date.now() }]]));
    const before = (await readHashCache(jobs.studio().config)).files["checkpoints/good.safetensors"];

    await jobs.worker().recover();
    const job = await runQueued();

    expect(job).toMatchObject({ status: "done", hashed: 3, total: 3, verified: 3, damaged: 0 });
    expect((await readHashCache(jobs.studio().config)).files["checkpoints/good.safetensors"]).toEqual(before);
  });
});

async function readCatalogSha(file: string): Promise<string> {
  const doc = JSON.parse(await readFile(`${jobs.studio().catalogsDir}/models.json`, "utf8")) as { categories: { models: { file: string; sha256: string }[] }[] };
  return doc.categories.flatMap((c) => c.models).find((m) => m.file === file)!.sha256.toLowerCase();
}

async function runQueued() {
  for (let i = 0; i < 2000; i++) {
    await jobs.worker().tick();
    const job = (await readStatus(jobs.studio().config)).verify!;
    if (job.status === "done" || job.status === "error") return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the verify did not end");
}
