import { readFile, rm, statfs, symlink } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { catalog, catalogFile, civitaiModel, emptyModelsDir, hfModel, placeModel, writeCatalog, bigCatalog } from "../support/catalogs";
import { call } from "../support/client";

const { studioDir, modelsDir } = inject("stack");

interface ListedModel {
  file: string;
  dest: string;
  status: string;
  on_disk_bytes: number;
  [field: string]: unknown;
}
interface Listing {
  version: number;
  date: string;
  stats: Record<string, number>;
  categories: { id: string; name: string; models: ListedModel[] }[];
}

const base = hfModel("sd_xl_base_1.0.safetensors", "checkpoints", { custom_note: "kept", nested: { a: [1, 2] } });
const vae = hfModel("sdxl_vae.safetensors", "vae", { size_gb: 0.33 });
const wan = civitaiModel("wan2.2_t2v_high_noise.safetensors", "diffusion_models/WanVideo/2_2", 2_000_001, 1_500_001);

describe("GET /api/admin/models", () => {
  beforeEach(async () => {
    await emptyModelsDir(modelsDir);
    await writeCatalog(studioDir, "models", catalog([
      { id: "sdxl", name: "SDXL", models: [base, vae] },
      { id: "video", name: "Video", icon: "film", models: [wan] },
    ]));
  });

  it("lists every category and model with its catalog fields, status and size on disk", async () => {
    await placeModel(modelsDir, base, 4096);
    await placeModel(modelsDir, wan, 1000);

    const { status, json } = await call<Listing>("GET", "/api/admin/models");

    expect(status).toBe(200);
    expect(json.version).toBe(21);
    expect(json.date).toBe("2026-03-23 15:00");
    expect(json.categories.map((c) => c.id)).toEqual(["sdxl", "video"]);
    expect(json.categories[1]).toMatchObject({ name: "Video", icon: "film" });
    expect(json.categories[0]!.models[0]).toEqual({ ...base, status: "present", on_disk_bytes: 4096 });
    expect(json.categories[0]!.models[1]).toEqual({ ...vae, status: "not_downloaded", on_disk_bytes: 0 });
    expect(json.categories[1]!.models[0]).toEqual({ ...wan, status: "present", on_disk_bytes: 1000 });
  });

  it("counts what is on disk and reports the volume's free space", async () => {
    await placeModel(modelsDir, base, 4096);
    await placeModel(modelsDir, vae, 100);

    const { json } = await call<Listing>("GET", "/api/admin/models");
    const fs = await statfs(modelsDir);

    expect(json.stats).toMatchObject({
      queued_count: 0,
      downloading_count: 0,
      fetching_count: 0,
      present_count: 2,
      total_count: 3,
      global_speed: 0,
      models_bytes: 4196,
    });
    const free = fs.bavail * fs.bsize;
    expect(Math.abs(json.stats.free_bytes! - free)).toBeLessThan(256 * 1024 * 1024);
  });

  it("does not take a folder, a dangling link or a partial download for the model", async () => {
    await placeModel(modelsDir, { dest: path.join("checkpoints", base.file), file: "inner" });
    await placeModel(modelsDir, { dest: "vae", file: `${vae.file}.part` });
    await placeModel(modelsDir, { dest: wan.dest, file: "other.bin" });
    await symlink(path.join(modelsDir, "gone.safetensors"), path.join(modelsDir, wan.dest, wan.file));

    const { json } = await call<Listing>("GET", "/api/admin/models");

    const statuses = json.categories.flatMap((c) => c.models.map((m) => m.status));
    expect(statuses).toEqual(["not_downloaded", "not_downloaded", "not_downloaded"]);
    expect(json.stats.present_count).toBe(0);
  });

  it("counts a model linked in from elsewhere as present", async () => {
    const elsewhere = await placeModel(path.join(modelsDir, ".."), { dest: "shared", file: "real.safetensors" }, 777);
    await placeModel(modelsDir, { dest: "checkpoints", file: "placeholder" });
    await symlink(elsewhere, path.join(modelsDir, "checkpoints", base.file));

    const { json } = await call<Listing>("GET", "/api/admin/models");

    expect(json.categories[0]!.models[0]).toMatchObject({ status: "present", on_disk_bytes: 777 });
  });

  it("skips entries whose paths could leave the models folder and still lists the rest", async () => {
    await writeCatalog(studioDir, "models", catalog([
      {
        id: "mixed",
        name: "Mixed",
        models: [
          base,
          { ...vae, file: "../../etc/passwd" },
          { ...vae, file: "evil.safetensors", dest: "/etc" },
          { ...vae, file: "x.safetensors", dest: "loras\\..\\.." },
          { name: "no dest", file: "nodest.safetensors" } as never,
          wan,
        ],
      },
    ]));

    const { status, json } = await call<Listing>("GET", "/api/admin/models");

    expect(status).toBe(200);
    expect(json.categories[0]!.models.map((m) => m.file)).toEqual([base.file, wan.file]);
    expect(json.stats.total_count).toBe(2);
  });

  it("answers with an empty catalog when models.json does not exist", async () => {
    await rm(catalogFile(studioDir, "models"));

    const { status, json } = await call<Listing>("GET", "/api/admin/models");

    expect(status).toBe(200);
    expect(json.categories).toEqual([]);
    expect(json.stats.total_count).toBe(0);
  });

  it("names the file and the parse error when models.json is broken, and leaves it as it is", async () => {
    const broken = '{"version": 3, "categories": [ {"id": "a", ';
    await writeCatalog(studioDir, "models", broken);

    const { status, json } = await call<{ detail: string }>("GET", "/api/admin/models");

    expect(status).toBe(500);
    expect(json.detail).toContain(catalogFile(studioDir, "models"));
    expect(json.detail).toMatch(/not valid JSON \(.+\)/);
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(broken);
  });

  it("says what is wrong when models.json is JSON but not a catalog", async () => {
    await writeCatalog(studioDir, "models", { version: 1, categories: { sdxl: [] } });

    const { status, json } = await call<{ detail: string }>("GET", "/api/admin/models");

    expect(status).toBe(500);
    expect(json.detail).toContain("is not a catalog (categories:");
  });

  it.each([
    ["missing", null],
    ["wrong", "not-the-key"],
    ["empty", ""],
  ])("refuses a %s API key with 401", async (_, key) => {
    const { status, json } = await call("GET", "/api/admin/models", { key });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });

  it("lists a 10,000-model catalog with 200 files on disk", async () => {
    const big = bigCatalog(10_000, "big");
    await writeCatalog(studioDir, "models", big);
    const onDisk = big.categories.flatMap((c) => c.models).filter((_, i) => i % 50 === 0);
    await Promise.all(onDisk.map((model) => placeModel(modelsDir, model, 10)));

    const started = performance.now();
    const { status, json } = await call<Listing>("GET", "/api/admin/models");
    const firstMs = performance.now() - started;
    const again = performance.now();
    await call<Listing>("GET", "/api/admin/models");
    const secondMs = performance.now() - again;
    console.log(`10,000-model listing: first ${firstMs.toFixed(0)} ms, then ${secondMs.toFixed(0)} ms`);

    expect(status).toBe(200);
    expect(json.stats.total_count).toBe(10_000);
    expect(json.stats.present_count).toBe(onDisk.length);
    expect(json.stats.models_bytes).toBe(onDisk.length * 10);
  });
});
