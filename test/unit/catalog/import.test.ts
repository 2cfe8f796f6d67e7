import { readFile } from "node:fs/promises";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as importer from "../../../lib/catalog/import";
import { catalogDoc, category, model, readCatalog, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

beforeEach(() => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

interface Thrown {
  name: string;
  detail: unknown;
}

function thrown(work: () => unknown): Thrown {
  try {
    work();
  } catch (error) {
    return error as Thrown;
  }
  throw new Error("expected an error");
}

async function rejected(work: () => Promise<unknown>): Promise<Thrown> {
  try {
    await work();
  } catch (error) {
    return error as Thrown;
  }
  throw new Error("expected a rejection");
}

const upload = (doc: unknown): string => JSON.stringify(doc);

describe("parseImport", () => {
  it("answers 400 'Invalid JSON: <parser message>' for a file that is not JSON", () => {
    const text = '{"categories": [';
    let parserMessage = "";
    try {
      JSON.parse(text);
    } catch (error) {
      parserMessage = (error as Error).message;
    }

    const error = thrown(() => importer.parseImport(text));

    expect(error.name).toBe("MalformedError");
    expect(error.detail).toBe(`Invalid JSON: ${parserMessage}`);
  });

  it("answers 413 for a file above 10 MB, as text or as bytes", () => {
    const big = `{"categories": [], "pad": "${"x".repeat(10 * 1024 * 1024)}"}`;

    const fromText = thrown(() => importer.parseImport(big));
    const fromBytes = thrown(() => importer.parseImport(Buffer.from(big)));

    expect(fromText.name).toBe("TooLargeError");
    expect(fromText.detail).toBe(`Import file is ${Buffer.byteLength(big)} bytes; the limit is 10 MB`);
    expect(fromBytes.name).toBe("TooLargeError");
    expect(fromBytes.detail).toBe(fromText.detail);
  });

  it("counts bytes, not characters, against the 10 MB limit", () => {
    // 4 million 3-byte characters: 12 MB, though the string's length is 4 million
    const wide = `{"categories": [], "pad": "${"€".repeat(4 * 1024 * 1024)}"}`;

    const error = thrown(() => importer.parseImport(wide));

    expect(wide.length).toBeLessThan(importer.MAX_IMPORT_BYTES);
    expect(error.name).toBe("TooLargeError");
    expect(error.detail).toBe(`Import file is ${Buffer.byteLength(wide)} bytes; the limit is 10 MB`);
  });

  it("accepts a file of exactly 10 MB", () => {
    const head = '{"categories": [], "pad": "';
    const tail = '"}';
    const exact = head + "x".repeat(10 * 1024 * 1024 - head.length - tail.length) + tail;

    expect(Buffer.byteLength(exact)).toBe(importer.MAX_IMPORT_BYTES);
    expect(importer.parseImport(exact).categories).toEqual([]);
  });

  it("accepts a file that starts with a byte-order mark", () => {
    const doc = catalogDoc([category("sdxl", [model("bom.safetensors")])]);

    const fromText = importer.parseImport(`\uFEFF${upload(doc)}`);
    const fromBytes = importer.parseImport(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(upload(doc))]));

    expect(fromText).toEqual(doc);
    expect(fromBytes).toEqual(doc);
  });

  it("answers 422 with one issue per bad field, across several entries and categories", () => {
    const doc = catalogDoc([
      category("ok", [model("fine.safetensors"), model("also-fine.safetensors"), { ...model("x.pt"), dest: "../../etc" }]),
      category("bad", [
        { ...model("/abs.pt"), sha256: "not-a-hash" },
        model("fine-2.safetensors"),
        { dest: "loras", file: "c:evil.pt" },
      ]),
    ]);

    const error = thrown(() => importer.parseImport(upload(doc)));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toEqual([
      { loc: ["file", "categories", 0, "models", 2, "dest"], msg: "must not contain '..'", type: "custom" },
      { loc: ["file", "categories", 1, "models", 0, "file"], msg: "must be a relative path", type: "custom" },
      { loc: ["file", "categories", 1, "models", 0, "sha256"], msg: "must be 64 hex characters", type: "invalid_format" },
      { loc: ["file", "categories", 1, "models", 2, "name"], msg: expect.any(String), type: "invalid_type" },
      { loc: ["file", "categories", 1, "models", 2, "file"], msg: "must be a relative path", type: "custom" },
    ]);
  });

  it("answers 422 located at the document for a file without categories", () => {
    const error = thrown(() => importer.parseImport(upload({ version: 1, models: [] })));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toEqual([{ loc: ["file", "categories"], msg: expect.any(String), type: "invalid_type" }]);
  });

  it("reports a category problem and an entry problem of the same file in one 422", () => {
    const doc = { categories: [{ name: "no id", models: [] }, category("sdxl", [{ ...model("a.pt"), dest: "/abs" }])] };

    const error = thrown(() => importer.parseImport(upload(doc)));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toEqual([
      { loc: ["file", "categories", 0, "id"], msg: expect.any(String), type: "invalid_type" },
      { loc: ["file", "categories", 1, "models", 0, "dest"], msg: "must be a relative path", type: "custom" },
    ]);
  });
});

describe("importModels", () => {
  it("adds new models to their category, tagged 'imported', and reports them", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sdxl", [model("existing.safetensors")])]));
    const incoming = catalogDoc([
      category("sdxl", [
        model("new-1.safetensors", "checkpoints", { tags: ["sdxl", "base"] }),
        model("new-2.safetensors", "checkpoints", { tags: null }),
        { name: "bare", file: "new-3.safetensors", dest: "loras", origin_tool: "x" },
      ]),
    ]);

    const result = await importer.importModels(studio(), upload(incoming));

    expect(result).toEqual({
      added: ["new-1.safetensors", "new-2.safetensors", "new-3.safetensors"],
      skipped: [],
      total_added: 3,
    });
    const saved = (await readCatalog(studio(), "models")) as { categories: { models: unknown[] }[] };
    expect(saved.categories[0]?.models).toEqual([
      model("existing.safetensors"),
      model("new-1.safetensors", "checkpoints", { tags: ["sdxl", "base", "imported"] }),
      model("new-2.safetensors", "checkpoints", { tags: ["imported"] }),
      { name: "bare", file: "new-3.safetensors", dest: "loras", origin_tool: "x", tags: ["imported"] },
    ]);
  });

  it("does not add the 'imported' tag twice", async () => {
    const incoming = catalogDoc([category("sdxl", [model("again.safetensors", "checkpoints", { tags: ["imported", "sdxl"] })])]);

    await importer.importModels(studio(), upload(incoming));

    const saved = (await readCatalog(studio(), "models")) as { categories: { models: { tags: string[] }[] }[] };
    expect(saved.categories[0]?.models[0]?.tags).toEqual(["imported", "sdxl"]);
  });

  it("creates a category the catalog does not have, with its fields, named after its id when it has no name", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sdxl", [model("a.safetensors")])]));
    const incoming = {
      categories: [
        { id: "flux", name: "FLUX.1", icon: "bolt", models: [model("flux1-dev.safetensors", "diffusion_models")] },
        { id: "wan-2-2", models: [model("wan.safetensors", "diffusion_models/WanVideo/2_2")] },
      ],
    };

    await importer.importModels(studio(), upload(incoming));

    const saved = (await readCatalog(studio(), "models")) as { categories: unknown[] };
    expect(saved.categories).toEqual([
      category("sdxl", [model("a.safetensors")]),
      { id: "flux", name: "FLUX.1", icon: "bolt", models: [{ ...model("flux1-dev.safetensors", "diffusion_models"), tags: ["sd15", "imported"] }] },
      { id: "wan-2-2", name: "wan-2-2", models: [{ ...model("wan.safetensors", "diffusion_models/WanVideo/2_2"), tags: ["sd15", "imported"] }] },
    ]);
  });

  it("skips a filename the catalog already has anywhere, invalid entries included, and leaves the rest deep-equal", async () => {
    const invalidWithName = { name: "hand-edited", file: "in-invalid.safetensors", dest: "/not/allowed" };
    const doc = catalogDoc(
      [
        category("sd15", [model("in-sd15.safetensors"), invalidWithName, 17], { icon: "x" }),
        category("sdxl", [model("in-sdxl.safetensors", "loras", { rating: 5 })]),
      ],
      { generator: "catalog-tool" },
    );
    await writeCatalog(studio(), "models", doc);
    const incoming = catalogDoc([
      category("sdxl", [
        model("in-sd15.safetensors", "other-dest"),
        model("in-invalid.safetensors"),
        model("in-sdxl.safetensors", "loras", { rating: 1 }),
        model("brand-new.safetensors"),
      ]),
    ]);

    const result = await importer.importModels(studio(), upload(incoming));

    expect(result).toEqual({
      added: ["brand-new.safetensors"],
      skipped: ["in-sd15.safetensors", "in-invalid.safetensors", "in-sdxl.safetensors"],
      total_added: 1,
    });
    const expected = structuredClone(doc);
    expected.categories[1]?.models.push({ ...model("brand-new.safetensors"), tags: ["sd15", "imported"] });
    expect(await readCatalog(studio(), "models")).toEqual(expected);
  });

  it("adds a filename that appears twice in the upload once", async () => {
    const incoming = catalogDoc([
      category("a", [model("twice.safetensors", "checkpoints")]),
      category("b", [model("twice.safetensors", "loras")]),
    ]);

    const result = await importer.importModels(studio(), upload(incoming));

    expect(result).toEqual({ added: ["twice.safetensors"], skipped: ["twice.safetensors"], total_added: 1 });
    const saved = (await readCatalog(studio(), "models")) as { categories: { id: string }[] };
    expect(saved.categories.map((c) => c.id)).toEqual(["a"]);
  });

  it("leaves the catalog file untouched when everything is skipped, and creates no empty category", async () => {
    const text = JSON.stringify(catalogDoc([category("sd15", [model("a.safetensors")])]));
    const file = await writeCatalog(studio(), "models", text);

    const result = await importer.importModels(studio(), upload(catalogDoc([category("new-cat", [model("a.safetensors")])])));

    expect(result).toEqual({ added: [], skipped: ["a.safetensors"], total_added: 0 });
    expect(await readFile(file, "utf8")).toBe(text);
  });

  it("imports nothing at all from an upload with one bad entry", async () => {
    const text = JSON.stringify(catalogDoc([category("sd15", [model("a.safetensors")])]));
    const file = await writeCatalog(studio(), "models", text);
    const incoming = catalogDoc([category("sd15", [model("good.safetensors"), { ...model("bad.pt"), dest: "../x" }])]);

    const error = await rejected(() => importer.importModels(studio(), upload(incoming)));

    expect(error.name).toBe("InvalidError");
    expect(await readFile(file, "utf8")).toBe(text);
  });

  it("creates the models catalog when the studio has none yet", async () => {
    const incoming = catalogDoc([category("sd15", [model("first.safetensors")])]);

    await importer.importModels(studio(), Buffer.from(upload(incoming)));

    expect(await readCatalog(studio(), "models")).toEqual({
      version: 0,
      date: "",
      categories: [category("sd15", [{ ...model("first.safetensors"), tags: ["sd15", "imported"] }])],
    });
  });

  it("refuses to import into a catalog that is not JSON and leaves it as it is", async () => {
    const file = await writeCatalog(studio(), "models", "{ broken");

    const error = await rejected(() => importer.importModels(studio(), upload(catalogDoc([category("c", [model("x.pt")])]))));

    expect(error.name).toBe("BrokenStateError");
    expect(error.detail).toContain(file);
    expect(await readFile(file, "utf8")).toBe("{ broken");
  });
});
