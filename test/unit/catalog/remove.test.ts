import { mkdir, readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as remove from "../../../lib/catalog/remove";
import { catalogDoc, category, model, placeModelFile, readCatalog, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

beforeEach(() => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

async function rejected(work: () => Promise<unknown>): Promise<{ name: string; detail: unknown }> {
  try {
    await work();
  } catch (error) {
    return error as { name: string; detail: unknown };
  }
  throw new Error("expected a rejection");
}

describe("removeFromCatalog", () => {
  it("answers 404 \"Model 'x' not found in catalog\" and leaves the file as it was", async () => {
    const text = JSON.stringify(catalogDoc([category("c", [model("a.safetensors")])]));
    const file = await writeCatalog(studio(), "models", text);

    const error = await rejected(() => remove.removeFromCatalog(studio(), "x"));

    expect(error.name).toBe("NotFoundError");
    expect(error.detail).toBe("Model 'x' not found in catalog");
    expect(await readFile(file, "utf8")).toBe(text);
  });

  it("answers 404 when the catalog does not exist yet", async () => {
    const error = await rejected(() => remove.removeFromCatalog(studio(), "a.safetensors"));

    expect(error).toMatchObject({ name: "NotFoundError", detail: "Model 'a.safetensors' not found in catalog" });
  });

  it("answers 404 for a name only an invalid entry carries, and keeps that entry", async () => {
    const doc = catalogDoc([category("c", [{ name: "broken", file: "only-invalid.safetensors", dest: "../x" }])]);
    await writeCatalog(studio(), "models", doc);

    const error = await rejected(() => remove.removeFromCatalog(studio(), "only-invalid.safetensors"));

    expect(error.name).toBe("NotFoundError");
    expect(await readCatalog(studio(), "models")).toEqual(doc);
  });

  it("answers 409 while the model file is still on disk, and keeps the entry", async () => {
    const doc = catalogDoc([category("c", [model("on-disk.safetensors", "diffusion_models/WanVideo/2_2")])]);
    await writeCatalog(studio(), "models", doc);
    await placeModelFile(studio(), "diffusion_models/WanVideo/2_2", "on-disk.safetensors");

    const error = await rejected(() => remove.removeFromCatalog(studio(), "on-disk.safetensors"));

    expect(error.name).toBe("ConflictError");
    expect(error.detail).toBe(
      "Model 'on-disk.safetensors' is still on disk in diffusion_models/WanVideo/2_2/: delete the file first (DELETE /api/admin/models/on-disk.safetensors)",
    );
    expect(await readCatalog(studio(), "models")).toEqual(doc);
  });

  it("answers 409 for a dangling symlink at the model's path", async () => {
    const doc = catalogDoc([category("c", [model("linked.safetensors", "loras")])]);
    await writeCatalog(studio(), "models", doc);
    await mkdir(path.join(studio().modelsDir, "loras"), { recursive: true });
    await symlink(path.join(studio().root, "nowhere.safetensors"), path.join(studio().modelsDir, "loras", "linked.safetensors"));

    const error = await rejected(() => remove.removeFromCatalog(studio(), "linked.safetensors"));

    expect(error.name).toBe("ConflictError");
    expect(await readCatalog(studio(), "models")).toEqual(doc);
  });

  it("answers 409 when one of several entries with the file is on disk, and removes none of them", async () => {
    const doc = catalogDoc([
      category("a", [model("dup.safetensors", "checkpoints")]),
      category("b", [model("dup.safetensors", "loras")]),
    ]);
    await writeCatalog(studio(), "models", doc);
    await placeModelFile(studio(), "loras", "dup.safetensors");

    const error = await rejected(() => remove.removeFromCatalog(studio(), "dup.safetensors"));

    expect(error.name).toBe("ConflictError");
    expect(await readCatalog(studio(), "models")).toEqual(doc);
  });

  it("removes every valid entry with the file and nothing else", async () => {
    const invalidSameName = { name: "hand-edited", file: "gone.safetensors", dest: "/abs" };
    const doc = catalogDoc(
      [
        category("a", [model("keep-1.safetensors"), model("gone.safetensors", "checkpoints"), invalidSameName], { icon: "a" }),
        category("b", [model("gone.safetensors", "loras", { extra: 1 }), model("keep-2.safetensors", "loras")]),
        category("c", [model("keep-3.safetensors", "vae")]),
      ],
      { generator: "catalog-tool" },
    );
    await writeCatalog(studio(), "models", doc);
    // the same name in a folder no entry points at does not block the removal
    await placeModelFile(studio(), "vae", "gone.safetensors");

    const result = await remove.removeFromCatalog(studio(), "gone.safetensors");

    expect(result).toEqual({ status: "removed", file: "gone.safetensors" });
    expect(await readCatalog(studio(), "models")).toEqual(
      catalogDoc(
        [
          category("a", [model("keep-1.safetensors"), invalidSameName], { icon: "a" }),
          category("b", [model("keep-2.safetensors", "loras")]),
          category("c", [model("keep-3.safetensors", "vae")]),
        ],
        { generator: "catalog-tool" },
      ),
    );
  });

  it("does not touch the loras catalog", async () => {
    const loras = catalogDoc([category("l", [model("shared-name.safetensors", "loras")])]);
    const lorasFile = await writeCatalog(studio(), "loras", loras);
    const lorasText = await readFile(lorasFile, "utf8");
    await writeCatalog(studio(), "models", catalogDoc([category("m", [model("shared-name.safetensors")])]));

    await remove.removeFromCatalog(studio(), "shared-name.safetensors");

    expect(await readFile(lorasFile, "utf8")).toBe(lorasText);
    expect(await readCatalog(studio(), "models")).toEqual(catalogDoc([category("m", [])]));
  });
});
