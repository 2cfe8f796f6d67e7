import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordHashes } from "../../lib/volume/hash-cache";
import { catalog, readCatalog, writeCatalog, type TestCatalog, type TestModel } from "../support/catalogs";
import { call } from "../support/client";
import { modelFile, queue, settled, stackInfo, upstream, urlEntry, useModels } from "../support/downloads";
import { fileBytes, fileSha256 } from "../support/upstream";

/**
 * Never download twice: a queued model whose sha256 is that of a file already on the volume (one the hash
 * cache knows, unchanged since it was hashed) is linked into place, with nothing asked of the upstream; a
 * record that no longer stands for its file is not used. Small files: what is under test is the choice.
 */
const KiB = 1024;
const files = {
  alpha: { id: "dedupe/alpha.safetensors", size: 300 * KiB + 11 },
  style: { id: "dedupe/style.safetensors", size: 200 * KiB + 3 },
  stale: { id: "dedupe/stale.safetensors", size: 250 * KiB + 7 },
  gone: { id: "dedupe/gone.safetensors", size: 220 * KiB + 5 },
  twins: { id: "dedupe/twins.safetensors", size: 280 * KiB + 1 },
};
type Name = keyof typeof files;
const sha = (name: Name) => fileSha256(files[name].id, files[name].size);
const entry = (name: Name, file: string, dest: string): TestModel => urlEntry(files[name].id, file, dest, { sha256: sha(name) });

const alpha = entry("alpha", "dedupe_alpha.safetensors", "checkpoints");
const alphaAgain = entry("alpha", "dedupe_alpha_again.safetensors", "diffusion_models/dedupe");
// the loras catalog's entry is never downloaded (only civitai-map reads that catalog): its file is put there by hand
const styleLora: TestModel = { name: "Style", file: "dedupe_style.safetensors", dest: "loras", civitai_version_id: "918273", sha256: sha("style") };
const styleModel = entry("style", "dedupe_style_model.safetensors", "loras/dedupe");
const staleFirst = entry("stale", "dedupe_stale.safetensors", "checkpoints");
const staleSecond = entry("stale", "dedupe_stale_second.safetensors", "vae");
const goneFirst = entry("gone", "dedupe_gone.safetensors", "checkpoints");
const goneSecond = entry("gone", "dedupe_gone_second.safetensors", "vae");
const twinA = entry("twins", "dedupe_twin_a.safetensors", "checkpoints");
const twinB = entry("twins", "dedupe_twin_b.safetensors", "loras");

const up = upstream;
const sent = async (name: Name) => up().stats(files[name].id);
const inode = async (model: Pick<TestModel, "dest" | "file">) => (await stat(modelFile(model))).ino;
const hashes = async () =>
  JSON.parse(await readFile(path.join(stackInfo().studioDir, "state", "hashes.json"), "utf8")) as { files: Record<string, { bytes: number; mtime_ms: number; sha256: string }> };
const activity = async () => (await call<{ message: string }[]>("GET", "/api/admin/activity-log")).json.map((line) => line.message);

async function downloaded(model: TestModel): Promise<void> {
  await queue(model.file);
  expect((await settled(model.file)).status).toBe("done");
}

describe("a model whose bytes are already on the volume", () => {
  let lorasBefore: TestCatalog | undefined;

  beforeAll(async () => {
    for (const spec of Object.values(files)) await up().register(spec);
    await useModels([alpha, alphaAgain, styleModel, staleFirst, staleSecond, goneFirst, goneSecond, twinA, twinB]);
    lorasBefore = await readCatalog(stackInfo().studioDir, "loras").catch(() => undefined);
    await writeCatalog(stackInfo().studioDir, "loras", catalog([{ id: "dedupe-loras", name: "LoRAs", models: [styleLora] }]));
  });

  afterAll(async () => {
    if (lorasBefore) await writeCatalog(stackInfo().studioDir, "loras", lorasBefore);
    for (const model of [alpha, alphaAgain, styleLora, styleModel, staleFirst, staleSecond, goneSecond, twinA, twinB]) await rm(modelFile(model), { force: true });
  });

  it("records a finished download's SHA256 in the hash cache, by its size and mtime", async () => {
    await downloaded(alpha);

    const { size, mtimeMs } = await stat(modelFile(alpha));
    expect((await hashes()).files["checkpoints/dedupe_alpha.safetensors"]).toMatchObject({ sha256: sha("alpha"), bytes: size, mtime_ms: mtimeMs });
  });

  it("links it from there: done within seconds, no byte from the upstream, one inode, said in the activity log", async () => {
    const before = await sent("alpha");
    const asked = Date.now();

    await queue(alphaAgain.file);
    const done = await settled(alphaAgain.file);

    expect(done).toMatchObject({ status: "done", bytes_downloaded: files.alpha.size, bytes_total: files.alpha.size, percent: 100 });
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(await sent("alpha")).toEqual(before);
    expect(await inode(alphaAgain)).toBe(await inode(alpha));
    expect(await activity()).toContain("Linked dedupe_alpha_again.safetensors from checkpoints/dedupe_alpha.safetensors (already on the volume)");
    expect((await hashes()).files["diffusion_models/dedupe/dedupe_alpha_again.safetensors"]?.sha256).toBe(sha("alpha"));
  });

  it("makes the file of a loras-catalog entry and a models-catalog entry with the same bytes one inode", async () => {
    const lora = modelFile(styleLora);
    await mkdir(path.dirname(lora), { recursive: true });
    await writeFile(lora, fileBytes(files.style.id, 0, 0, files.style.size));
    const { size, mtimeMs } = await stat(lora);
    // what identify leaves in the cache for a file it hashed
    await recordHashes({ stateDir: path.join(stackInfo().studioDir, "state") }, new Map([["loras/dedupe_style.safetensors", { bytes: size, mtime_ms: mtimeMs, sha256: sha("style"), hashed_at: Date.now() }]]));
    const before = await sent("style");

    await queue(styleModel.file);

    expect((await settled(styleModel.file)).status).toBe("done");
    expect(await sent("style")).toEqual(before);
    expect(await inode(styleModel)).toBe(await inode(styleLora));
  });

  it("downloads it after all when the file changed since it was hashed", async () => {
    await downloaded(staleFirst);
    // same size, one byte other, a new mtime: the record no longer stands for this file
    const bytes = await readFile(modelFile(staleFirst));
    bytes[1000] = 0xff - bytes[1000]!;
    await writeFile(modelFile(staleFirst), bytes);
    const before = await sent("stale");

    await downloaded(staleSecond);

    expect((await sent("stale")).bytesSent - before.bytesSent).toBeGreaterThanOrEqual(files.stale.size);
    expect(await inode(staleSecond)).not.toBe(await inode(staleFirst));
    expect((await readFile(modelFile(staleSecond))).equals(fileBytes(files.stale.id, 0, 0, files.stale.size))).toBe(true);
  });

  it("downloads it after all when the file its record names is gone", async () => {
    await downloaded(goneFirst);
    expect((await call("DELETE", `/api/admin/models/${goneFirst.file}`)).status).toBe(200);
    const before = await sent("gone");

    await downloaded(goneSecond);

    expect((await sent("gone")).bytesSent - before.bytesSent).toBeGreaterThanOrEqual(files.gone.size);
    expect((await readFile(modelFile(goneSecond))).equals(fileBytes(files.gone.id, 0, 0, files.gone.size))).toBe(true);
  });

  it("downloads two entries with the same bytes queued together once, and links the second", async () => {
    const before = await sent("twins");

    const { json } = await call<{ queued: string[] }>("POST", "/api/admin/models/download-batch", { json: { filenames: [twinA.file, twinB.file] } });
    const [a, b] = await Promise.all([settled(twinA.file), settled(twinB.file)]);

    expect(json.queued).toEqual([twinA.file, twinB.file]);
    expect([a.status, b.status]).toEqual(["done", "done"]);
    expect(await inode(twinB)).toBe(await inode(twinA));
    expect((await sent("twins")).bytesSent - before.bytesSent).toBeLessThan(2 * files.twins.size);
    expect(await activity()).toContain("Linked dedupe_twin_b.safetensors from checkpoints/dedupe_twin_a.safetensors (already on the volume)");
  });
});
