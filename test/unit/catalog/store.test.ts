import { readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as store from "../../../lib/catalog/store";
import { catalogDoc, category, model, readCatalog, rejection, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

beforeEach(() => {
  // skipped entries are reported with console.warn; keep the test output readable
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

const jsonParseMessage = (text: string): string => {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected invalid JSON");
};


describe("loadCatalog", () => {
  it("reads a missing catalog as an empty one and does not create the file", async () => {
    const loaded = await store.loadCatalog(studio(), "models");

    expect(loaded.models).toEqual([]);
    expect(loaded.categories).toEqual([]);
    expect(loaded.document).toEqual({ version: 0, date: "", categories: [] });
    expect(loaded.path).toBe(path.join(studio().catalogsDir, "models.json"));
    await expect(readdir(studio().studioDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("reads models of every category in order, with the document as it is on disk", async () => {
    const doc = catalogDoc([
      category("sd15", [model("a.safetensors"), model("b.safetensors", "vae")]),
      category("wan", [model("c.safetensors", "diffusion_models/WanVideo/2_2")]),
    ]);
    await writeCatalog(studio(), "loras", doc);

    const loaded = await store.loadCatalog(studio(), "loras");

    expect(loaded.models.map((m) => m.file)).toEqual(["a.safetensors", "b.safetensors", "c.safetensors"]);
    expect(loaded.categories.map((c) => [c.category.id, c.models.length])).toEqual([
      ["sd15", 2],
      ["wan", 1],
    ]);
    expect(loaded.document).toEqual(doc);
  });

  it("fails on a catalog that is not JSON with a detail naming the file and the parse error", async () => {
    const text = '{"version": 1, "categories": [ {"id": "x", "models": [}';
    const file = await writeCatalog(studio(), "models", text);

    const error = await rejection(store.loadCatalog(studio(), "models"));

    expect(error.name).toBe("BrokenStateError");
    expect(error.detail).toBe(
      `Catalog ${file} is not valid JSON (${jsonParseMessage(text)}); fix or replace it, it is never overwritten`,
    );
  });

  it("fails on JSON that is not a catalog, naming the file and what is wrong", async () => {
    const file = await writeCatalog(studio(), "models", { version: 1, categories: [{ name: "no id", models: [] }] });

    const error = await rejection(store.loadCatalog(studio(), "models"));

    expect(error.name).toBe("BrokenStateError");
    expect(error.detail).toContain(`Catalog ${file} is not a catalog (categories.0.id: `);
  });

  it("skips invalid entries and keeps the valid ones around them", async () => {
    const bad = [
      model("../escape.safetensors"),
      { ...model("abs.safetensors"), dest: "/etc" },
      { name: "no file", dest: "loras" },
      "just a string",
      null,
    ];
    await writeCatalog(studio(), "models", catalogDoc([category("mixed", [model("good-1.safetensors"), ...bad, model("good-2.safetensors")])]));

    const loaded = await store.loadCatalog(studio(), "models");

    expect(loaded.models.map((m) => m.file)).toEqual(["good-1.safetensors", "good-2.safetensors"]);
    expect(loaded.categories[0]?.models.map((m) => m.file)).toEqual(["good-1.safetensors", "good-2.safetensors"]);
    expect(loaded.document.categories[0]?.models).toHaveLength(7);
    expect(console.warn).toHaveBeenCalledWith(expect.stringContaining('skipping categories[0].models[1] ("../escape.safetensors")'));
  });

  it("returns fresh data after the file is replaced by rename", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("old.safetensors")])]));
    const before = await store.loadCatalog(studio(), "models");
    const staged = path.join(studio().root, "staged.json");
    await writeFile(staged, JSON.stringify(catalogDoc([category("c", [model("new.safetensors")])])));

    await rename(staged, path.join(studio().catalogsDir, "models.json"));
    const after = await store.loadCatalog(studio(), "models");

    expect(before.models.map((m) => m.file)).toEqual(["old.safetensors"]);
    expect(after.models.map((m) => m.file)).toEqual(["new.safetensors"]);
  });

  it("returns fresh data after the file is rewritten in place", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("old.safetensors")])]));
    await store.loadCatalog(studio(), "models");

    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("a-longer-name.safetensors")])]));
    const after = await store.loadCatalog(studio(), "models");

    expect(after.models.map((m) => m.file)).toEqual(["a-longer-name.safetensors"]);
  });

  it("returns fresh data after the file is deleted", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("gone.safetensors")])]));
    await store.loadCatalog(studio(), "models");

    await rm(path.join(studio().catalogsDir, "models.json"));
    const after = await store.loadCatalog(studio(), "models");

    expect(after.models).toEqual([]);
  });

  it("sees a change made through changeCatalog", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("one.safetensors")])]));
    await store.loadCatalog(studio(), "models");

    await store.changeCatalog(studio(), "models", (catalog) => {
      catalog.document.categories[0]?.models.push(model("two.safetensors"));
      return { result: undefined, changed: true };
    });
    const after = await store.loadCatalog(studio(), "models");

    expect(after.models.map((m) => m.file)).toEqual(["one.safetensors", "two.safetensors"]);
  });
});

describe("changeCatalog", () => {
  it("never touches a catalog that is not JSON: the change is refused and the file stays byte-identical", async () => {
    const text = '{\n  "version": 2,\n  "categories": [ oops\n';
    const file = await writeCatalog(studio(), "models", text);
    const change = vi.fn(() => ({ result: "done", changed: true }));

    const loadError = await rejection(store.loadCatalog(studio(), "models"));
    const changeError = await rejection(store.changeCatalog(studio(), "models", change));

    expect(loadError.detail).toContain(file);
    expect(changeError.name).toBe("BrokenStateError");
    expect(changeError.detail).toBe(
      `Catalog ${file} is not valid JSON (${jsonParseMessage(text)}); fix or replace it, it is never overwritten`,
    );
    expect(change).not.toHaveBeenCalled();
    expect(await readFile(file, "utf8")).toBe(text);
    expect(await readdir(studio().catalogsDir)).toEqual(["models.json"]);
  });

  it("keeps invalid entries exactly as they were when it changes something else", async () => {
    const invalid = [
      { ...model("../../etc/passwd"), note: "hand-edited" },
      { name: "missing dest", file: "x.safetensors" },
      { ...model("y.safetensors"), dest: "C:/models" },
      42,
      null,
      ["nested", { deep: true }],
    ];
    const doc = catalogDoc([category("first", [model("keep.safetensors"), ...invalid]), category("second", [model("drop.safetensors")])]);
    await writeCatalog(studio(), "models", doc);

    await store.changeCatalog(studio(), "models", (catalog) => {
      const second = catalog.document.categories[1];
      if (second) second.models = [];
      return { result: undefined, changed: true };
    });

    const expected = structuredClone(doc);
    expected.categories[1]!.models = [];
    expect(await readCatalog(studio(), "models")).toEqual(expected);
  });

  it("carries unknown top-level, category and model fields through a change", async () => {
    const doc = catalogDoc(
      [
        category("sdxl", [model("base.safetensors", "checkpoints", { preview: { url: "https://img.example/1.png" }, nsfw: false })], {
          icon: "🖼",
          sort: 3,
        }),
      ],
      { generator: "catalog-tool 2.1", $schema: "https://example.invalid/catalog.json", notes: ["a", "b"] },
    );
    await writeCatalog(studio(), "models", doc);

    await store.changeCatalog(studio(), "models", (catalog) => {
      catalog.document.version = 8;
      return { result: undefined, changed: true };
    });

    expect(await readCatalog(studio(), "models")).toEqual({ ...doc, version: 8 });
  });

  it("leaves the file as it was when the change says nothing changed", async () => {
    const text = JSON.stringify(catalogDoc([category("c", [model("a.safetensors")])]));
    const file = await writeCatalog(studio(), "models", text);

    const result = await store.changeCatalog(studio(), "models", () => ({ result: 41 + 1, changed: false }));

    expect(result).toBe(42);
    expect(await readFile(file, "utf8")).toBe(text);
  });

  it("creates a missing catalog with the change applied", async () => {
    await store.changeCatalog(studio(), "loras", (catalog) => {
      catalog.document.categories.push(category("new", [model("first.safetensors", "loras")]));
      return { result: undefined, changed: true };
    });

    expect(await readCatalog(studio(), "loras")).toEqual({
      version: 0,
      date: "",
      categories: [category("new", [model("first.safetensors", "loras")])],
    });
  });

  it("writes nothing and frees the lock when the change throws", async () => {
    const text = JSON.stringify(catalogDoc([category("c", [model("a.safetensors")])]));
    const file = await writeCatalog(studio(), "models", text);

    const error = await rejection(
      store.changeCatalog(studio(), "models", (catalog) => {
        catalog.document.categories = [];
        throw new Error("change failed half-way");
      }),
    );
    const next = await store.changeCatalog(studio(), "models", (catalog) => ({ result: catalog.models.length, changed: false }));

    expect(error.message).toBe("change failed half-way");
    expect(await readFile(file, "utf8")).toBe(text);
    expect(next).toBe(1);
  });

  it("applies 30 concurrent changes, each adding a different model", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("seed.safetensors")])]));
    const files = Array.from({ length: 30 }, (_, i) => `concurrent-${String(i).padStart(2, "0")}.safetensors`);

    await Promise.all(
      files.map((file) =>
        store.changeCatalog(studio(), "models", async (catalog) => {
          // yield inside the critical section, as a real change that stats files would
          await new Promise((resolve) => setTimeout(resolve, 1));
          catalog.document.categories[0]?.models.push(model(file));
          return { result: undefined, changed: true };
        }),
      ),
    );

    const loaded = await store.loadCatalog(studio(), "models");
    expect(loaded.models.map((m) => m.file).sort()).toEqual(["seed.safetensors", ...files].sort());
    expect((await readdir(studio().catalogsDir)).sort()).toEqual(["models.json"]);
  });
});
