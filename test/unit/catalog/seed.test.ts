import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseCatalog } from "../../../lib/catalog/store";
import { seedCatalogs } from "../../../lib/catalog/seed";
import { catalogDoc, category, makeTempDir, model, removeTempDir } from "../helpers";

const SHIPPED_DIR = path.resolve(__dirname, "..", "..", "..", "catalogs");

let root: string;
let shippedDir: string;
let catalogsDir: string;

beforeEach(async () => {
  root = await makeTempDir();
  shippedDir = path.join(root, "shipped");
  catalogsDir = path.join(root, "studio", "catalogs");
  await mkdir(shippedDir);
  await writeFile(path.join(shippedDir, "models.json"), JSON.stringify(catalogDoc([category("m", [model("shipped-model.safetensors")])]), null, 2));
  await writeFile(path.join(shippedDir, "loras.json"), JSON.stringify(catalogDoc([category("l", [model("shipped-lora.safetensors", "loras")])])));
});

afterEach(async () => {
  await removeTempDir(root);
});

describe("seedCatalogs", () => {
  it("copies both shipped catalogs, byte for byte, into a studio that has none", async () => {
    const seeded = await seedCatalogs(catalogsDir, shippedDir);

    expect(seeded).toEqual([path.join(catalogsDir, "models.json"), path.join(catalogsDir, "loras.json")]);
    for (const name of ["models.json", "loras.json"]) {
      expect(await readFile(path.join(catalogsDir, name))).toEqual(await readFile(path.join(shippedDir, name)));
    }
    expect((await readdir(catalogsDir)).sort()).toEqual(["loras.json", "models.json"]);
  });

  it("never overwrites an existing catalog, even one that is empty or not JSON, and seeds only what is missing", async () => {
    await mkdir(catalogsDir, { recursive: true });
    const mine = path.join(catalogsDir, "models.json");
    await writeFile(mine, "{ my hand-edited catalog, not even valid JSON");

    const seeded = await seedCatalogs(catalogsDir, shippedDir);

    expect(seeded).toEqual([path.join(catalogsDir, "loras.json")]);
    expect(await readFile(mine, "utf8")).toBe("{ my hand-edited catalog, not even valid JSON");
  });

  it("leaves an empty catalog file alone", async () => {
    await mkdir(catalogsDir, { recursive: true });
    await writeFile(path.join(catalogsDir, "loras.json"), "");

    await seedCatalogs(catalogsDir, shippedDir);

    expect(await readFile(path.join(catalogsDir, "loras.json"), "utf8")).toBe("");
  });

  it("changes nothing on a second start, even when the shipped catalogs changed since", async () => {
    await seedCatalogs(catalogsDir, shippedDir);
    const before = await readFile(path.join(catalogsDir, "models.json"), "utf8");
    await writeFile(path.join(shippedDir, "models.json"), JSON.stringify(catalogDoc([])));

    const seeded = await seedCatalogs(catalogsDir, shippedDir);

    expect(seeded).toEqual([]);
    expect(await readFile(path.join(catalogsDir, "models.json"), "utf8")).toBe(before);
  });

  it("seeds the project's shipped catalogs, and every entry in them is valid", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);

    await seedCatalogs(catalogsDir, SHIPPED_DIR);

    for (const name of ["models", "loras"]) {
      const file = path.join(catalogsDir, `${name}.json`);
      const loaded = parseCatalog(file, await readFile(file, "utf8"));
      const entries = loaded.document.categories.reduce((sum, c) => sum + c.models.length, 0);
      expect(entries).toBeGreaterThan(0);
      expect(loaded.models).toHaveLength(entries);
    }
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});
