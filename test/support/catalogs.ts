import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** Catalog documents shaped like the real models.json: the fields the studio and its users write. */
export interface TestModel {
  name: string;
  file: string;
  dest: string;
  [field: string]: unknown;
}

export interface TestCategory {
  id: string;
  name: string;
  models: TestModel[];
  [field: string]: unknown;
}

export interface TestCatalog {
  version: number;
  date: string;
  categories: TestCategory[];
  [field: string]: unknown;
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

export const hfModel = (file: string, dest: string, extra: Partial<TestModel> = {}): TestModel => ({
  name: `${file.replace(/\.\w+$/, "")} [HF]`,
  file,
  dest,
  source: "huggingface",
  size_gb: 6.46,
  tags: ["sdxl", "base"],
  base_model: "SDXL 1.0",
  hf_repo: "stabilityai/stable-diffusion-xl-base-1.0",
  hf_file: file,
  sha256: sha(file),
  ...extra,
});

export const civitaiModel = (file: string, dest: string, versionId: number, modelId: number, extra: Partial<TestModel> = {}): TestModel => ({
  name: `${file.replace(/\.\w+$/, "")} [CivitAI]`,
  file,
  dest,
  source: "civitai",
  size_gb: 2.13,
  tags: ["sd15", "realistic"],
  base_model: "SD 1.5",
  civitai_version_id: String(versionId),
  civitai_model_id: modelId,
  ...extra,
});

export const catalog = (categories: TestCategory[], version = 21, date = "2026-03-23 15:00"): TestCatalog => ({
  version,
  date,
  categories,
});

/** `count` realistic models spread over several categories and nested dests, filenames prefixed by `prefix`. */
export function bigCatalog(count: number, prefix: string, version = 21): TestCatalog {
  const dests = ["checkpoints", "vae", "loras", "diffusion_models/WanVideo/2_2", "text_encoders/t5", "upscale_models"];
  const categories: TestCategory[] = dests.map((dest, i) => ({
    id: `${prefix}-cat-${i}`,
    name: `${prefix} category ${i}`,
    models: [],
  }));
  for (let i = 0; i < count; i++) {
    const dest = dests[i % dests.length]!;
    const file = `${prefix}_model_${String(i).padStart(5, "0")}.safetensors`;
    const model =
      i % 2 === 0 ? hfModel(file, dest) : civitaiModel(file, dest, 100_000 + i, 10_000 + Math.floor(i / 3));
    categories[i % dests.length]!.models.push(model);
  }
  return catalog(categories, version);
}

export const catalogFile = (studioDir: string, name: "models" | "loras") =>
  path.join(studioDir, "catalogs", `${name}.json`);

export async function writeCatalog(studioDir: string, name: "models" | "loras", doc: unknown): Promise<void> {
  await mkdir(path.join(studioDir, "catalogs"), { recursive: true });
  await writeFile(catalogFile(studioDir, name), typeof doc === "string" ? doc : JSON.stringify(doc, null, 2));
}

export async function readCatalog(studioDir: string, name: "models" | "loras"): Promise<TestCatalog> {
  return JSON.parse(await readFile(catalogFile(studioDir, name), "utf8")) as TestCatalog;
}

/** Puts a model file on disk, as a finished download would. */
export async function placeModel(modelsDir: string, model: Pick<TestModel, "dest" | "file">, bytes = 1024): Promise<string> {
  const file = path.join(modelsDir, model.dest, model.file);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes, 7));
  return file;
}

export async function emptyModelsDir(modelsDir: string): Promise<void> {
  await rm(modelsDir, { recursive: true, force: true });
  await mkdir(modelsDir, { recursive: true });
}
