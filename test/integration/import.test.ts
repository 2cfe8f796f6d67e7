import { readFile } from "node:fs/promises";
import { beforeEach, describe, expect, inject, it } from "vitest";
import {
  bigCatalog,
  catalog,
  catalogFile,
  civitaiModel,
  hfModel,
  readCatalog,
  writeCatalog,
  type TestCatalog,
  type TestModel,
} from "../support/catalogs";
import { call, uploadForm } from "../support/client";

const { studioDir } = inject("stack");

const existing = (): TestCatalog => ({
  ...bigCatalog(24, "local"),
  maintainer: "studio",
});

interface ImportReply {
  added: string[];
  skipped: string[];
  total_added: number;
}

/** What an import makes of an entry it adds: the same, tagged "imported". */
const tagged = (model: TestModel): TestModel => ({ ...model, tags: [...((model.tags as string[] | undefined) ?? []), "imported"] });

const importFile = (content: string | Uint8Array, key?: string | null) =>
  call<ImportReply>("POST", "/api/admin/models/import", { body: uploadForm(content), ...(key !== undefined && { key }) });

describe("POST /api/admin/models/import", () => {
  beforeEach(async () => {
    await writeCatalog(studioDir, "models", existing());
  });

  it("adds a real-sized catalog to its categories, tagged imported, and changes nothing else", async () => {
    const incoming = bigCatalog(90, "new");
    // same category ids as the local catalog for half of them: those join, the others are created
    incoming.categories.slice(0, 3).forEach((category, i) => (category.id = `local-cat-${i}`));
    const duplicate = existing().categories[4]!.models[0]!;
    incoming.categories[5]!.models.push(duplicate);

    const { status, json } = await importFile(JSON.stringify(incoming));

    expect(status).toBe(200);
    const incomingFiles = incoming.categories.flatMap((c) => c.models.map((m) => m.file)).filter((f) => f !== duplicate.file);
    expect(json.added).toEqual(incoming.categories.flatMap((c) => c.models.map((m) => m.file)).filter((f) => f !== duplicate.file));
    expect(json.skipped).toEqual([duplicate.file]);
    expect(json.total_added).toBe(90);

    const after = await readCatalog(studioDir, "models");
    const before = existing();
    // every local category keeps its entries first and untouched; new ones follow
    expect(after.maintainer).toBe("studio");
    expect(after.version).toBe(before.version);
    for (const [i, category] of before.categories.entries()) {
      expect(after.categories[i]!.models.slice(0, category.models.length)).toEqual(category.models);
      expect(after.categories[i]!.name).toBe(category.name);
    }
    // every incoming entry as it was sent, tagged, in its category: after the local ones, or in a new one
    for (const category of incoming.categories) {
      const local = before.categories.find((c) => c.id === category.id)?.models.length ?? 0;
      const added = after.categories.find((c) => c.id === category.id)!.models.slice(local);
      expect(added).toEqual(category.models.filter((m) => m.file !== duplicate.file).map(tagged));
    }
    expect(after.categories.map((c) => c.id)).toEqual([...before.categories.map((c) => c.id), "new-cat-3", "new-cat-4", "new-cat-5"]);
    expect(after.categories.at(-1)!.name).toBe("new category 5");
    const allFiles = after.categories.flatMap((c) => c.models.map((m) => m.file));
    expect(allFiles).toHaveLength(24 + 90);
    expect(new Set(allFiles).size).toBe(allFiles.length);
    expect(allFiles).toEqual(expect.arrayContaining(incomingFiles));

    const listed = await call<{ stats: { total_count: number } }>("GET", "/api/admin/models");
    expect(listed.json.stats.total_count).toBe(114);
  });

  it("skips everything the second time the same file is imported", async () => {
    const incoming = catalog([{ id: "flux", name: "FLUX", models: [hfModel("flux1-dev.safetensors", "diffusion_models/flux")] }]);
    await importFile(JSON.stringify(incoming));
    const once = await readFile(catalogFile(studioDir, "models"), "utf8");

    const { json } = await importFile(JSON.stringify(incoming));

    expect(json).toEqual({ added: [], skipped: ["flux1-dev.safetensors"], total_added: 0 });
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(once);
  });

  it("keeps unknown fields of imported entries and does not tag twice", async () => {
    const model = civitaiModel("tagged.safetensors", "loras", 7, 8, { tags: ["imported", "x"], trigger_words: ["sks"] });

    await importFile(JSON.stringify(catalog([{ id: "loras", name: "LoRAs", models: [model] }])));

    const after = await readCatalog(studioDir, "models");
    expect(after.categories.at(-1)!.models).toEqual([model]);
  });

  it("refuses a file that is not JSON with the parser's message", async () => {
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");

    const { status, json } = await importFile("{ not json");

    expect(status).toBe(400);
    expect((json as unknown as { detail: string }).detail).toMatch(/^Invalid JSON: .*JSON/);
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("refuses a request without the file field", async () => {
    const form = new FormData();
    form.append("other", "x");

    const missing = await call<{ detail: string }>("POST", "/api/admin/models/import", { body: form });
    const notMultipart = await call<{ detail: string }>("POST", "/api/admin/models/import", { json: existing() });

    expect(missing.status).toBe(400);
    expect(missing.json.detail).toContain("Missing form field 'file'");
    expect(notMultipart.status).toBe(400);
    expect(notMultipart.json.detail).toContain("multipart/form-data");
  });

  it("lists every bad or unsafe entry with 422 and writes nothing", async () => {
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");
    const incoming = catalog([
      {
        id: "bad",
        name: "Bad",
        models: [
          hfModel("fine.safetensors", "checkpoints"),
          hfModel("../../escape.safetensors", "checkpoints"),
          hfModel("abs.safetensors", "/etc"),
          hfModel("dots.safetensors", "loras/../../.."),
          hfModel("back.safetensors", "loras\\x"),
          hfModel("sub/dir.safetensors", "loras"),
          { name: "no file", dest: "vae" } as never,
          hfModel("nul\u0000.safetensors", "vae"),
          hfModel("size.safetensors", "vae", { size_gb: "big" }),
        ],
      },
    ]);

    const { status, json } = await importFile(JSON.stringify(incoming));

    expect(status).toBe(422);
    const detail = (json as unknown as { detail: { loc: (string | number)[]; msg: string; type: string }[] }).detail;
    expect(detail.map((issue) => issue.loc)).toEqual([
      ["file", "categories", 0, "models", 1, "file"],
      ["file", "categories", 0, "models", 2, "dest"],
      ["file", "categories", 0, "models", 3, "dest"],
      ["file", "categories", 0, "models", 4, "dest"],
      ["file", "categories", 0, "models", 5, "file"],
      ["file", "categories", 0, "models", 6, "file"],
      ["file", "categories", 0, "models", 7, "file"],
      ["file", "categories", 0, "models", 8, "size_gb"],
    ]);
    expect(detail[0]!.msg).toContain("..");
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("refuses a document that is not in the models.json format with 422", async () => {
    const { status, json } = await importFile(JSON.stringify([{ file: "a.safetensors" }]));

    expect(status).toBe(422);
    expect((json as unknown as { detail: { loc: unknown[] }[] }).detail[0]!.loc).toEqual(["file"]);
  });

  it("refuses an upload above 10 MB with 413 and writes nothing", async () => {
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");
    const padding = " ".repeat(10 * 1024 * 1024 + 1);

    const { status, json } = await importFile(`${padding}{}`);

    expect(status).toBe(413);
    expect((json as unknown as { detail: string }).detail).toMatch(/10 MB/);
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("refuses an import that takes the catalog past 100,000 models with 422 and writes nothing", async () => {
    // the smallest usable entries: a catalog one short of the bound, quick to write and to read
    const tiny = Array.from({ length: 99_999 }, (_, i) => ({ name: `t${i}`, file: `t${i}.safetensors`, dest: "checkpoints" }));
    await writeCatalog(studioDir, "models", catalog([{ id: "full", name: "Full", models: tiny }]));
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");
    const two = catalog([{ id: "more", name: "More", models: [hfModel("one_more.safetensors", "checkpoints"), hfModel("two_more.safetensors", "checkpoints")] }]);

    const { status, json } = await importFile(JSON.stringify(two));

    expect(status).toBe(422);
    expect(json).toEqual({
      detail: "The catalog would hold 100,001 models; the limit is 100,000 (it holds 99,999 now). Remove models from it before adding more",
    });
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
    // up to the bound itself is taken
    const one = await importFile(JSON.stringify(catalog([{ id: "more", name: "More", models: [hfModel("one_more.safetensors", "checkpoints")] }])));
    expect(one.status).toBe(200);
    expect(one.json.added).toEqual(["one_more.safetensors"]);
  });

  it.each([
    ["missing", null],
    ["wrong", "nope"],
  ])("refuses a %s API key with 401 and writes nothing", async (_, key) => {
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");

    const { status, json } = await importFile(JSON.stringify(bigCatalog(3, "x")), key);

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("applies concurrent imports of different files all together, each entry as its own import sent it", async () => {
    const uploads = Array.from({ length: 12 }, (_, i) => bigCatalog(5, `batch${i}`));

    const replies = await Promise.all(uploads.map((doc) => importFile(JSON.stringify(doc))));

    const after = await readCatalog(studioDir, "models");
    const files = after.categories.flatMap((c) => c.models.map((m) => m.file));
    expect(files).toHaveLength(24 + 60);
    uploads.forEach((upload, i) => {
      const sent = upload.categories.flatMap((c) => c.models);
      expect(replies[i]!.json).toEqual({ added: sent.map((m) => m.file), skipped: [], total_added: 5 });
      for (const category of upload.categories.filter((c) => c.models.length > 0)) {
        expect(after.categories.find((c) => c.id === category.id)?.models, `${category.id}`).toEqual(category.models.map(tagged));
      }
    });
  });
});
