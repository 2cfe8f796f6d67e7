import { readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { catalog, catalogFile, civitaiModel, emptyModelsDir, hfModel, placeModel, readCatalog, writeCatalog } from "../support/catalogs";
import { call } from "../support/client";

const { studioDir, modelsDir } = inject("stack");

const old = civitaiModel("old_model.safetensors", "checkpoints", 1001, 501, { favourite: true });
const keep = hfModel("sd_xl_base_1.0.safetensors", "checkpoints");
const spaced = hfModel("my model (v2) é.safetensors", "loras/sdxl");
const doc = () =>
  catalog([
    { id: "sdxl", name: "SDXL", models: [old, keep] },
    { id: "loras", name: "LoRAs", models: [spaced] },
  ]);

describe("DELETE /api/admin/models/{filename}/catalog", () => {
  beforeEach(async () => {
    await emptyModelsDir(modelsDir);
    await writeCatalog(studioDir, "models", { ...doc(), maintainer: "studio" });
  });

  it("removes the entry and leaves every other entry and field as it was", async () => {
    const { status, json } = await call("DELETE", "/api/admin/models/old_model.safetensors/catalog");

    expect(status).toBe(200);
    expect(json).toEqual({ status: "removed", file: "old_model.safetensors" });
    const after = await readCatalog(studioDir, "models");
    expect(after).toEqual({
      ...doc(),
      maintainer: "studio",
      categories: [
        { id: "sdxl", name: "SDXL", models: [keep] },
        { id: "loras", name: "LoRAs", models: [spaced] },
      ],
    });
    const listed = await call<{ stats: { total_count: number } }>("GET", "/api/admin/models");
    expect(listed.json.stats.total_count).toBe(2);
  });

  it("matches a URL-encoded filename exactly", async () => {
    const { status, json } = await call("DELETE", `/api/admin/models/${encodeURIComponent(spaced.file)}/catalog`);

    expect(status).toBe(200);
    expect(json).toEqual({ status: "removed", file: spaced.file });
    expect((await readCatalog(studioDir, "models")).categories[1]!.models).toEqual([]);
  });

  it("answers 404 with the reference message for a model the catalog lacks, and changes nothing", async () => {
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");

    const { status, json } = await call("DELETE", "/api/admin/models/nonexistent.safetensors/catalog");

    expect(status).toBe(404);
    expect(json).toEqual({ detail: "Model 'nonexistent.safetensors' not found in catalog" });
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("does not match by prefix, case or a traversal of the path", async () => {
    for (const name of ["old_model", "OLD_MODEL.safetensors", "..%2Fcheckpoints%2Fold_model.safetensors"]) {
      const { status } = await call("DELETE", `/api/admin/models/${name}/catalog`);
      expect(status, name).toBe(404);
    }
    expect((await readCatalog(studioDir, "models")).categories[0]!.models).toHaveLength(2);
  });

  it("answers 409 and keeps the entry while the file is on disk", async () => {
    await placeModel(modelsDir, old);

    const { status, json } = await call<{ detail: string }>("DELETE", "/api/admin/models/old_model.safetensors/catalog");

    expect(status).toBe(409);
    expect(json.detail).toMatch(/still on disk.*delete the file first/);
    expect((await readCatalog(studioDir, "models")).categories[0]!.models).toHaveLength(2);
  });

  it("counts a link at the model's path as on disk, even a dangling one", async () => {
    await placeModel(modelsDir, { dest: "checkpoints", file: "other" });
    await symlink(path.join(modelsDir, "gone"), path.join(modelsDir, "checkpoints", old.file));

    const { status } = await call("DELETE", "/api/admin/models/old_model.safetensors/catalog");

    expect(status).toBe(409);
  });

  it("applies concurrent removals of different models all together", async () => {
    const many = Array.from({ length: 30 }, (_, i) => hfModel(`m${i}.safetensors`, "checkpoints"));
    await writeCatalog(studioDir, "models", catalog([{ id: "many", name: "Many", models: [...many, keep] }]));

    const replies = await Promise.all(many.map((m) => call("DELETE", `/api/admin/models/${m.file}/catalog`)));

    expect(replies.map((r) => r.status)).toEqual(many.map(() => 200));
    expect((await readCatalog(studioDir, "models")).categories[0]!.models).toEqual([keep]);
  });

  it.each([
    ["missing", null],
    ["wrong", "nope"],
  ])("refuses a %s API key with 401 and changes nothing", async (_, key) => {
    const { status, json } = await call("DELETE", "/api/admin/models/old_model.safetensors/catalog", { key });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
    expect((await readCatalog(studioDir, "models")).categories[0]!.models).toHaveLength(2);
  });
});
