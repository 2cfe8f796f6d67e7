import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { checkGrowth, MAX_CATALOG_BYTES, MAX_CATALOG_MODELS } from "../../../lib/catalog/bounds";
import { importModels } from "../../../lib/catalog/import";
import { changeCatalog } from "../../../lib/catalog/store";
import { syncCatalog } from "../../../lib/catalog/sync";
import { catalogDoc, category, model, rejection, useStudio, writeCatalog } from "../helpers";

describe("checkGrowth", () => {
  const size = (models: number, bytes = 1_000) => ({ models, bytes });
  const refusal = (work: () => void) => {
    try {
      work();
    } catch (error) {
      return error as Error & { detail: unknown };
    }
    throw new Error("expected a refusal");
  };

  it("accepts a catalog of exactly 100,000 models", () => {
    expect(MAX_CATALOG_MODELS).toBe(100_000);
    expect(() => checkGrowth(size(99_000), size(100_000))).not.toThrow();
  });

  it("refuses one model more with 422, saying the limit and both counts", () => {
    const error = refusal(() => checkGrowth(size(99_999), size(100_001)));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toBe("The catalog would hold 100,001 models; the limit is 100,000 (it holds 99,999 now). Remove models from it before adding more");
  });

  it("refuses a catalog past the byte bound with 422, saying the limit and both sizes", () => {
    const error = refusal(() => checkGrowth(size(10, MAX_CATALOG_BYTES - 1024 ** 2), size(11, MAX_CATALOG_BYTES + 1024 ** 2)));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toBe("The catalog would be 65.0 MB; the limit is 64.0 MB (it is 63.0 MB now). Remove models from it before adding more");
  });

  it("lets a catalog already past a bound shrink, or change without growing", () => {
    expect(() => checkGrowth(size(120_000), size(119_999))).not.toThrow();
    expect(() => checkGrowth(size(120_000), size(120_000))).not.toThrow();
    expect(() => checkGrowth(size(5, MAX_CATALOG_BYTES * 2), size(5, MAX_CATALOG_BYTES * 2 - 10))).not.toThrow();
  });
});

// a catalog near the model bound takes seconds to check entry by entry on a loaded machine
describe("every change of the catalog is bounded", { timeout: 60_000 }, () => {
  const studio = useStudio();
  // the smallest usable entries, so that a catalog near the model bound is quick to write and read
  const tiny = (count: number, prefix = "m") =>
    Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, file: `${prefix}${i}.safetensors`, dest: "checkpoints", tags: ["imported"] }));
  const catalogFile = () => path.join(studio().catalogsDir, "models.json");

  beforeEach(() => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    return () => vi.restoreAllMocks();
  });

  it("refuses an import past 100,000 models and writes nothing; one that reaches it exactly is taken", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("big", tiny(MAX_CATALOG_MODELS - 1))]));
    const before = await readFile(catalogFile(), "utf8");

    const error = await rejection(importModels(studio(), JSON.stringify(catalogDoc([category("new", [model("x.safetensors"), model("y.safetensors")])]))));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toBe("The catalog would hold 100,001 models; the limit is 100,000 (it holds 99,999 now). Remove models from it before adding more");
    expect(await readFile(catalogFile(), "utf8")).toBe(before);
    const taken = await importModels(studio(), JSON.stringify(catalogDoc([category("new", [model("x.safetensors")])])));
    expect(taken.added).toEqual(["x.safetensors"]);
  });

  it("refuses a metadata write that takes the catalog past its byte bound, and writes nothing", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sd15", [model("a.safetensors")])]));
    const before = await readFile(catalogFile(), "utf8");

    const error = await rejection(
      changeCatalog(studio(), "models", (catalog) => {
        Object.assign(catalog.document.categories[0]!.models[0] as object, { trainedWords: ["x".repeat(MAX_CATALOG_BYTES)] });
        return { result: undefined, changed: true };
      }),
    );

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toMatch(/^The catalog would be 64\.0 MB; the limit is 64\.0 MB \(it is 0\.0 MB now\)/);
    expect(await readFile(catalogFile(), "utf8")).toBe(before);
  });

  it("refuses a sync whose merge passes 100,000 models, and writes neither the catalog nor its backup", async () => {
    // local imports the remote lacks are kept by the merge: with the remote's two, one too many
    await writeCatalog(studio(), "models", { ...catalogDoc([category("big", tiny(MAX_CATALOG_MODELS - 1))]), version: 1 });
    const remote = path.join(studio().studioDir, ".repo", "catalogs", "models.json");
    await mkdir(path.dirname(remote), { recursive: true });
    await writeFile(remote, JSON.stringify({ ...catalogDoc([category("remote", [model("x.safetensors"), model("y.safetensors")])]), version: 2 }));
    const before = await readFile(catalogFile(), "utf8");

    const error = await rejection(syncCatalog(studio()));

    expect(error.name).toBe("InvalidError");
    expect(error.detail).toMatch(/^The catalog would hold 100,001 models; the limit is 100,000/);
    expect(await readFile(catalogFile(), "utf8")).toBe(before);
    expect(await stat(`${catalogFile()}.bak`).catch(() => undefined)).toBeUndefined();
  });
});
