import { readFile } from "node:fs/promises";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as store from "../../../lib/catalog/store";
import { catalogDoc, category, model, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

beforeEach(() => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

describe("loading a catalog with a wrong optional field", () => {
  it("keeps the model, leaves the bad field out of what the service uses, and the file as it was", async () => {
    const file = await writeCatalog(
      studio(),
      "models",
      catalogDoc([category("c", [model("quoted.safetensors", "checkpoints", { size_gb: "6.5", sha256: "", note: "kept" })])]),
    );
    const before = await readFile(file, "utf8");

    const loaded = await store.loadCatalog(studio(), "models");

    expect(loaded.models).toHaveLength(1);
    expect(loaded.models[0]).toMatchObject({ file: "quoted.safetensors", note: "kept" });
    expect(loaded.models[0]).not.toHaveProperty("size_gb");
    expect(loaded.models[0]).not.toHaveProperty("sha256");
    expect(console.warn).toHaveBeenCalledWith(expect.stringContaining("ignoring some fields of"));
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("still skips an entry whose dest could leave the models folder", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("x.safetensors", "../up", { size_gb: "1" })])]));

    expect((await store.loadCatalog(studio(), "models")).models).toEqual([]);
  });
});
