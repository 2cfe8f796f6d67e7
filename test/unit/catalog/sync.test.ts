import { describe, expect, it } from "vitest";
import { mergeCatalogs } from "../../../lib/catalog/sync";
import type { CatalogDocument } from "../../../lib/catalog/schema";

const doc = (version: number, categories: CatalogDocument["categories"], extra: Record<string, unknown> = {}): CatalogDocument => ({
  version,
  date: `v${version}`,
  categories,
  ...extra,
});

describe("mergeCatalogs", () => {
  it("lets a remote entry replace the local one, keeping fetched fields the remote lacks", () => {
    const local = doc(1, [
      { id: "a", name: "A", models: [{ name: "old", file: "m.safetensors", dest: "checkpoints", sha256: "b".repeat(64), civitai_tags: ["x"], note: "mine" }] },
    ]);
    const remote = doc(2, [{ id: "a", name: "A2", models: [{ name: "new", file: "m.safetensors", dest: "checkpoints/sdxl", civitai_tags: ["y"] }] }]);

    const merged = mergeCatalogs(local, remote);

    expect(merged.categories[0]!.models).toEqual([
      { name: "new", file: "m.safetensors", dest: "checkpoints/sdxl", civitai_tags: ["y"], sha256: "b".repeat(64) },
    ]);
    expect(merged.version).toBe(2);
  });

  it("keeps a locked name", () => {
    const local = doc(1, [{ id: "a", name: "A", models: [{ name: "My name", name_locked: true, file: "m.pt", dest: "x" }] }]);
    const remote = doc(2, [{ id: "a", name: "A", models: [{ name: "Their name", file: "m.pt", dest: "x" }] }]);

    expect(mergeCatalogs(local, remote).categories[0]!.models[0]).toEqual({ name: "My name", name_locked: true, file: "m.pt", dest: "x" });
  });

  it("keeps local imports the remote lacks, in their category, and drops other local entries", () => {
    const imported = { name: "mine", file: "lora.safetensors", dest: "loras", tags: ["imported"] };
    const local = doc(1, [
      { id: "a", name: "A", models: [{ name: "gone", file: "gone.pt", dest: "x" }, imported] },
      { id: "b", name: "B", icon: "star", models: [{ ...imported, file: "other.safetensors" }] },
    ]);
    const remote = doc(2, [{ id: "a", name: "A", models: [{ name: "r", file: "r.pt", dest: "x" }] }]);

    const merged = mergeCatalogs(local, remote);

    expect(merged.categories).toEqual([
      { id: "a", name: "A", models: [{ name: "r", file: "r.pt", dest: "x" }, imported] },
      { id: "b", name: "B", icon: "star", models: [{ ...imported, file: "other.safetensors" }] },
    ]);
  });

  it("does not duplicate an import the remote now carries", () => {
    const imported = { name: "mine", file: "lora.safetensors", dest: "loras", tags: ["imported"] };
    const local = doc(1, [{ id: "a", name: "A", models: [imported] }]);
    const remote = doc(2, [{ id: "z", name: "Z", models: [{ name: "official", file: "lora.safetensors", dest: "loras" }] }]);

    const merged = mergeCatalogs(local, remote);

    expect(merged.categories.flatMap((c) => c.models)).toEqual([{ name: "official", file: "lora.safetensors", dest: "loras" }]);
  });

  it("never changes the documents it is given", () => {
    const local = doc(1, [{ id: "a", name: "A", models: [{ name: "x", file: "x.pt", dest: "d", sha256: "c".repeat(64), tags: ["imported"] }] }]);
    const remote = doc(2, [{ id: "a", name: "A", models: [{ name: "y", file: "y.pt", dest: "d" }] }]);
    const before = JSON.stringify([local, remote]);

    mergeCatalogs(local, remote);

    expect(JSON.stringify([local, remote])).toBe(before);
  });
});
