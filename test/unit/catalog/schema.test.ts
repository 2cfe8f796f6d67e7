import { describe, expect, it } from "vitest";
import { CatalogDocument, CatalogModel, SafeDest, SafeFileName, civitaiId } from "../../../lib/catalog/schema";
import { model } from "../helpers";

const messages = (result: { success: boolean; error?: { issues: { message: string }[] } }): string[] =>
  result.error?.issues.map((issue) => issue.message) ?? [];

describe("SafeFileName: a model's file", () => {
  it.each([
    ["an absolute path", "/etc/passwd", "must be a relative path"],
    ["'..'", "..", "must not contain '..'"],
    ["'..' inside the name", "model..safetensors", "must not contain '..'"],
    ["a NUL byte", "model\0.safetensors", "must not contain a NUL byte"],
    ["a backslash", "sub\\model.safetensors", "must not contain a backslash"],
    ["a Windows drive", "C:model.safetensors", "must be a relative path"],
    ["a Windows absolute path", "C:\\models\\x.safetensors", "must not contain a backslash"],
    ["a '/'", "checkpoints/model.safetensors", "must be a bare filename, without '/'"],
    ["a control character", "model\n.safetensors", "must not contain control characters"],
    ["'.'", ".", "is not a filename"],
    ["only spaces", "   ", "is not a filename"],
  ])("rejects %s", (_what, file, message) => {
    const result = SafeFileName.safeParse(file);

    expect(result.success).toBe(false);
    expect(messages(result)).toEqual([message]);
  });

  it("rejects an empty name and one over 240 bytes (room for '.part.json' within a file system's 255)", () => {
    expect(SafeFileName.safeParse("").success).toBe(false);
    expect(SafeFileName.safeParse(`${"a".repeat(237)}.pt`).success).toBe(true);
    expect(SafeFileName.safeParse(`${"a".repeat(238)}.pt`).success).toBe(false);
    // bytes, not characters: 200 two-byte letters are too long
    expect(SafeFileName.safeParse(`${"é".repeat(120)}.pt`).success).toBe(false);
  });

  it.each(["v1-5-pruned-emaonly.safetensors", "wan2.2_t2v [fp8] (v1).safetensors", ".hidden-model.ckpt", "модель.gguf"])(
    "accepts the real-world filename %j",
    (file) => {
      expect(SafeFileName.safeParse(file)).toEqual({ success: true, data: file });
    },
  );
});

describe("SafeDest: the folder under the models dir", () => {
  it.each([
    ["an absolute path", "/checkpoints", "must be a relative path"],
    ["'..'", "../outside", "must not contain '..'"],
    ["'..' in the middle", "loras/../../etc", "must not contain '..'"],
    ["a NUL byte", "loras\0", "must not contain a NUL byte"],
    ["a backslash", "diffusion_models\\wan", "must not contain a backslash"],
    ["a Windows drive", "D:/models", "must be a relative path"],
    ["an empty part", "loras//sdxl", "must be folders separated by single '/', with no empty or '.' part"],
    ["a trailing '/'", "loras/", "must be folders separated by single '/', with no empty or '.' part"],
    ["a '.' part", "./loras", "must be folders separated by single '/', with no empty or '.' part"],
    ["a tab", "loras\tsdxl", "must not contain control characters"],
  ])("rejects %s", (_what, dest, message) => {
    const result = SafeDest.safeParse(dest);

    expect(result.success).toBe(false);
    expect(messages(result)).toEqual([message]);
  });

  it.each(["checkpoints", "diffusion_models/WanVideo/2_2", "text_encoders/t5", "loras/SDXL 1.0"])(
    "accepts the nested dest %j",
    (dest) => {
      expect(SafeDest.safeParse(dest)).toEqual({ success: true, data: dest });
    },
  );
});

describe("CatalogModel", () => {
  it("accepts an entry with a nested dest and keeps fields it does not know", () => {
    const entry = model("wan2.2_i2v_high_noise_14B_fp8.safetensors", "diffusion_models/WanVideo/2_2", {
      civitai_version_id: "2054321",
      civitai_model_id: 1_800_000,
      sha256: "A".repeat(64),
      workflow_hint: { steps: 4, sampler: "euler" },
      added_by: "another-tool/2.0",
    });

    const result = CatalogModel.safeParse(entry);

    expect(result.success).toBe(true);
    expect(result.data).toEqual(entry);
  });

  it("accepts null for every optional field, as older catalogs write them", () => {
    const entry = {
      name: "Old entry",
      file: "old.ckpt",
      dest: "checkpoints",
      source: null,
      size_gb: null,
      tags: null,
      base_model: null,
      hf_repo: null,
      hf_file: null,
      url: null,
      civitai_version_id: null,
      civitai_model_id: null,
      sha256: null,
    };

    expect(CatalogModel.safeParse(entry)).toEqual({ success: true, data: entry });
  });

  it("names every bad field of an entry", () => {
    const result = CatalogModel.safeParse({
      name: "",
      file: "../x.safetensors",
      dest: "/abs",
      sha256: "abc",
      civitai_version_id: "12a",
      size_gb: -1,
    });

    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join(".")).sort();
    expect(paths).toEqual(["civitai_version_id", "dest", "file", "name", "sha256", "size_gb"]);
  });

  it("requires name, file and dest", () => {
    const result = CatalogModel.safeParse({ source: "civitai" });

    expect(result.error?.issues.map((issue) => issue.path.join(".")).sort()).toEqual(["dest", "file", "name"]);
  });
});

describe("CatalogDocument", () => {
  it("keeps unknown fields at the top, in categories, and leaves entries as they came", () => {
    const doc = {
      version: 3,
      date: "2026-01-01",
      schema_url: "https://example.invalid/catalog.schema.json",
      categories: [{ id: "sdxl", name: "SDXL", icon: "star", models: [{ not: "a model" }, 42, null] }],
    };

    const result = CatalogDocument.safeParse(doc);

    expect(result.success).toBe(true);
    expect(result.data).toEqual(doc);
  });

  it("refuses a document without categories, or a category without an id", () => {
    expect(CatalogDocument.safeParse({ version: 1 }).success).toBe(false);
    const result = CatalogDocument.safeParse({ categories: [{ name: "no id", models: [] }] });
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([["categories", 0, "id"]]);
  });
});

describe("civitaiId", () => {
  it("reads digits in a string and numbers as the same id, and nothing as undefined", () => {
    expect(civitaiId("123456")).toBe(123456);
    expect(civitaiId(123456)).toBe(123456);
    expect(civitaiId(null)).toBeUndefined();
    expect(civitaiId(undefined)).toBeUndefined();
  });
});
