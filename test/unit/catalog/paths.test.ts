import { statfsSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import * as paths from "../../../lib/catalog/paths";
import { placeModelFile, useStudio } from "../helpers";

const studio = useStudio();

const statfsFree = (dir: string): number => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

describe("modelPath", () => {
  it("puts a model at $MODELS_DIR/<dest>/<file>", () => {
    const full = paths.modelPath({ file: "wan.safetensors", dest: "diffusion_models/WanVideo/2_2" }, studio().config.modelsDir);

    expect(full).toBe(path.join(studio().modelsDir, "diffusion_models", "WanVideo", "2_2", "wan.safetensors"));
  });

  it("accepts a models dir given with a trailing slash", () => {
    const full = paths.modelPath({ file: "a.pt", dest: "vae" }, `${studio().modelsDir}/`);

    expect(full).toBe(path.join(studio().modelsDir, "vae", "a.pt"));
  });

  it.each([
    ["a dest that climbs out", { file: "x.pt", dest: "../.." }],
    ["a file that climbs out", { file: "../../etc/passwd", dest: "checkpoints" }],
    ["an absolute dest", { file: "passwd", dest: "/etc" }],
    ["a sibling folder sharing the models dir's prefix", { file: "x.pt", dest: "../models-evil" }],
    ["the models dir itself", { file: ".", dest: "." }],
  ])("refuses %s", (_what, location) => {
    expect(() => paths.modelPath(location, studio().config.modelsDir)).toThrow(/^refusing a model path outside /);
  });
});

describe("scanPresence", () => {
  it("reports the size of every model file that is on disk, keyed by its full path", async () => {
    const a = await placeModelFile(studio(), "checkpoints", "a.safetensors", 1000);
    const b = await placeModelFile(studio(), "diffusion_models/WanVideo/2_2", "b.safetensors", 2500);
    const models = [
      { file: "a.safetensors", dest: "checkpoints" },
      { file: "b.safetensors", dest: "diffusion_models/WanVideo/2_2" },
      { file: "missing.safetensors", dest: "checkpoints" },
    ];

    const sizes = await paths.scanPresence(models, studio().config.modelsDir);

    expect([...sizes].sort()).toEqual([
      [a, 1000],
      [b, 2500],
    ]);
    expect(sizes.get(paths.modelPath({ file: "a.safetensors", dest: "checkpoints" }, studio().config.modelsDir))).toBe(1000);
  });

  it("does not count a file that sits in another dest than the catalog says", async () => {
    await placeModelFile(studio(), "loras", "a.safetensors", 10);

    const sizes = await paths.scanPresence([{ file: "a.safetensors", dest: "checkpoints" }], studio().config.modelsDir);

    expect(sizes.size).toBe(0);
  });

  it("ignores a directory named like the model file", async () => {
    await mkdir(path.join(studio().modelsDir, "checkpoints", "a.safetensors"), { recursive: true });

    const sizes = await paths.scanPresence([{ file: "a.safetensors", dest: "checkpoints" }], studio().config.modelsDir);

    expect(sizes.size).toBe(0);
  });

  it("counts a symlink to a file, with the size of the file it points at", async () => {
    const target = path.join(studio().root, "elsewhere", "shared.safetensors");
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, Buffer.alloc(4096));
    await mkdir(path.join(studio().modelsDir, "loras"), { recursive: true });
    const link = path.join(studio().modelsDir, "loras", "shared.safetensors");
    await symlink(target, link);

    const sizes = await paths.scanPresence([{ file: "shared.safetensors", dest: "loras" }], studio().config.modelsDir);

    expect([...sizes]).toEqual([[link, 4096]]);
  });

  it("ignores a dangling symlink", async () => {
    await mkdir(path.join(studio().modelsDir, "loras"), { recursive: true });
    await symlink(path.join(studio().root, "deleted.safetensors"), path.join(studio().modelsDir, "loras", "gone.safetensors"));

    const sizes = await paths.scanPresence([{ file: "gone.safetensors", dest: "loras" }], studio().config.modelsDir);

    expect(sizes.size).toBe(0);
  });

  it("treats missing dest folders, a missing models dir and a dest that is a file as nothing on disk", async () => {
    const models = [
      { file: "a.pt", dest: "never/created" },
      { file: "b.pt", dest: "upscale_models" },
    ];
    const before = await paths.scanPresence(models, studio().config.modelsDir);
    await mkdir(studio().modelsDir, { recursive: true });
    await writeFile(path.join(studio().modelsDir, "upscale_models"), "a file where a folder should be");

    const after = await paths.scanPresence(models, studio().config.modelsDir);

    expect(before.size).toBe(0);
    expect(after.size).toBe(0);
  });

  it("finds present files among many models spread over many folders", async () => {
    const models = Array.from({ length: 120 }, (_, i) => ({ file: `m${i}.safetensors`, dest: `dest${i % 7}/sub` }));
    const present = models.filter((_, i) => i % 3 === 0);
    for (const m of present) await placeModelFile(studio(), m.dest, m.file, 3);

    const sizes = await paths.scanPresence(models, studio().config.modelsDir);

    expect([...sizes.keys()].sort()).toEqual(present.map((m) => paths.modelPath(m, studio().config.modelsDir)).sort());
  });

  it("returns nothing for an empty list", async () => {
    expect((await paths.scanPresence([], studio().config.modelsDir)).size).toBe(0);
  });
});

describe("freeBytes", () => {
  it("matches what statfs says for the models folder's volume", async () => {
    await mkdir(studio().modelsDir, { recursive: true });

    const free = await paths.freeBytes(studio().config.modelsDir);

    // other processes write to the same disk meanwhile: allow a little drift
    expect(Math.abs(free - statfsFree(studio().modelsDir))).toBeLessThan(256 * 1024 * 1024);
    expect(free).toBeGreaterThan(0);
  });

  it("answers for a folder that does not exist yet from its nearest existing parent", async () => {
    const notYet = path.join(studio().root, "ComfyUI", "models", "checkpoints", "sub");

    const free = await paths.freeBytes(notYet);

    expect(Math.abs(free - statfsFree(studio().root))).toBeLessThan(256 * 1024 * 1024);
  });
});

describe("containedModelPath", () => {
  const outside = () => path.join(studio().root, "outside");

  beforeEach(async () => {
    await mkdir(outside(), { recursive: true });
    await mkdir(studio().modelsDir, { recursive: true });
  });

  it("gives the model's path when its folders are real, or not made yet", async () => {
    await mkdir(path.join(studio().modelsDir, "checkpoints"), { recursive: true });

    const present = await paths.containedModelPath({ file: "a.pt", dest: "checkpoints" }, studio().config.modelsDir);
    const later = await paths.containedModelPath({ file: "b.pt", dest: "loras/new/deep" }, studio().config.modelsDir);

    expect(present).toBe(path.join(studio().modelsDir, "checkpoints", "a.pt"));
    expect(later).toBe(path.join(studio().modelsDir, "loras", "new", "deep", "b.pt"));
  });

  it("accepts a link at the model's path itself, and a folder linked inside the models folder", async () => {
    await mkdir(path.join(studio().modelsDir, "real"), { recursive: true });
    await symlink(path.join(studio().modelsDir, "real"), path.join(studio().modelsDir, "alias"));
    await symlink(path.join(outside(), "x.pt"), path.join(studio().modelsDir, "real", "x.pt"));

    await expect(paths.containedModelPath({ file: "x.pt", dest: "alias" }, studio().config.modelsDir)).resolves.toBe(path.join(studio().modelsDir, "alias", "x.pt"));
  });

  it.each([
    ["a folder linked outside", "linked", "linked"],
    ["a folder below one linked outside", "linked", "linked/sub/deeper"],
    ["a dangling folder link", "dangling", "dangling"],
  ])("refuses %s with a 409", async (_what, link, dest) => {
    const target = link === "dangling" ? path.join(outside(), "gone") : outside();
    await symlink(target, path.join(studio().modelsDir, link));

    const refused = await paths.containedModelPath({ file: "x.pt", dest }, studio().config.modelsDir).catch((error: unknown) => error);

    expect(refused).toMatchObject({ name: "ConflictError", detail: `'${dest}' leads outside the models folder through a link; refusing to touch 'x.pt' there` });
  });

  it("follows a models folder that is itself a link", async () => {
    const realModels = path.join(studio().root, "real-models");
    await mkdir(path.join(realModels, "vae"), { recursive: true });
    const linkedModels = path.join(studio().root, "linked-models");
    await symlink(realModels, linkedModels);

    await expect(paths.containedModelPath({ file: "v.pt", dest: "vae" }, linkedModels)).resolves.toBe(path.join(linkedModels, "vae", "v.pt"));
  });
});
