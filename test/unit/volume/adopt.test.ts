import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { updateHashCache } from "../../../lib/state/hash-cache";
import { readActivity } from "../../../lib/state/activity-log";
import { adoptFiles } from "../../../lib/volume/adopt";
import { catalogDoc, category, model, readCatalog, useStudio, writeCatalog, type TestCatalog } from "../helpers";

const studio = useStudio();
const SHA = "ab".repeat(32);

async function put(rel: string, bytes = 1024 * 1024): Promise<string> {
  const file = path.join(studio().modelsDir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes, 3));
  return file;
}

/** An identify's records for `rel`: its hash (as it is now) and what CivitAI said of it. */
async function identified(rel: string, match: Record<string, unknown> | null, sha256 = SHA): Promise<void> {
  const s = await stat(path.join(studio().modelsDir, rel));
  await mkdir(studio().config.stateDir, { recursive: true });
  await updateHashCache(studio().config, (cache, now) => {
    cache.files[rel] = { bytes: s.size, mtime_ms: s.mtimeMs, sha256, hashed_at: now };
    cache.matches[sha256] = { match: match as never, checked_at: now };
    return { result: undefined, changed: true };
  });
}

const catalog = async () => (await readCatalog(studio(), "models")) as TestCatalog;

describe("adopting unlisted files", () => {
  it("adds entries where the files are, into the category whose models share the folder", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("sdxl", [model("base.safetensors", "checkpoints")]), category("vae", [model("v.safetensors", "vae")])]));
    await put("checkpoints/mine.safetensors", 3 * 1024 * 1024);
    await identified("checkpoints/mine.safetensors", { civitai_version_id: 77, civitai_model_id: 7, name: "Juggernaut XL v9", type: "Checkpoint", base_model: "SDXL 1.0", file: "jugg.safetensors" });

    const answer = await adoptFiles(studio(), ["checkpoints/mine.safetensors"]);

    expect(answer).toEqual({
      added: [{ path: "checkpoints/mine.safetensors", name: "Juggernaut XL v9", file: "mine.safetensors", dest: "checkpoints", category: "sdxl" }],
      skipped: [],
    });
    expect((await catalog()).categories[0]!.models[1]).toEqual({
      name: "Juggernaut XL v9",
      file: "mine.safetensors",
      dest: "checkpoints",
      source: "civitai",
      size_gb: 0,
      tags: ["adopted"],
      base_model: "SDXL 1.0",
      civitai_model_id: 7,
      civitai_version_id: "77",
      civitai_type: "Checkpoint",
      sha256: SHA,
    });
    expect((await readActivity(studio().config)).at(-1)?.message).toBe("Adopted 1 file into the catalog: checkpoints/mine.safetensors");
  });

  it("names an unidentified file after itself, with no sha256 that is not fresh, in a new category named after its folder", async () => {
    await put("loras/sd15/detail.safetensors");
    await put("loras/sd15/other.safetensors");
    await identified("loras/sd15/detail.safetensors", null);
    // the file changed since it was hashed: that hash is no longer its
    await writeFile(path.join(studio().modelsDir, "loras/sd15/detail.safetensors"), "changed");

    const answer = await adoptFiles(studio(), ["loras/sd15/detail.safetensors", "loras/sd15/other.safetensors"]);

    expect(answer.added.map((added) => [added.name, added.category])).toEqual([
      ["detail", "loras-sd15"],
      ["other", "loras-sd15"],
    ]);
    const doc = await catalog();
    expect(doc.categories).toEqual([
      {
        id: "loras-sd15",
        name: "loras/sd15",
        models: [
          { name: "detail", file: "detail.safetensors", dest: "loras/sd15", size_gb: 0, tags: ["adopted"] },
          { name: "other", file: "other.safetensors", dest: "loras/sd15", size_gb: 0, tags: ["adopted"] },
        ],
      },
    ]);
  });

  it("skips, with the reason, what is not an unlisted model file", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("listed.safetensors", "checkpoints")])]));
    await writeCatalog(studio(), "loras", catalogDoc([category("l", [model("named.safetensors", "loras")])]));
    await put("checkpoints/listed.safetensors");
    await put("checkpoints/notes.txt");
    await put("upscale/named.safetensors");
    await put("loras/new.safetensors");

    const answer = await adoptFiles(studio(), [
      "checkpoints/listed.safetensors",
      "checkpoints/notes.txt",
      "checkpoints/ghost.safetensors",
      "../outside.safetensors",
      "upscale/named.safetensors",
      "loras/new.safetensors",
      "loras/new.safetensors",
    ]);

    expect(answer.added.map((added) => added.path)).toEqual(["loras/new.safetensors"]);
    expect(answer.skipped).toEqual([
      { path: "checkpoints/listed.safetensors", reason: "already listed in models.json" },
      { path: "checkpoints/notes.txt", reason: "not a model file (a model file's name ends with .safetensors, .ckpt, .pt, .pth, .bin, .gguf, .sft, .onnx)" },
      { path: "checkpoints/ghost.safetensors", reason: "no such model file on the volume" },
      { path: "../outside.safetensors", reason: "no such model file on the volume" },
      {
        path: "upscale/named.safetensors",
        reason: "loras.json already has a model 'named.safetensors' (in loras); the API finds models by file name: rename one of them first",
      },
      { path: "loras/new.safetensors", reason: "already listed in models.json" },
    ]);
  });

  it("writes nothing when nothing is added", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("listed.safetensors", "checkpoints")])]));
    const before = await stat(path.join(studio().catalogsDir, "models.json"));

    const answer = await adoptFiles(studio(), ["checkpoints/ghost.safetensors"]);

    expect(answer.added).toEqual([]);
    expect((await stat(path.join(studio().catalogsDir, "models.json"))).ino).toBe(before.ino);
  });
});
