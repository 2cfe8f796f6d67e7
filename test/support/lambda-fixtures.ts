/**
 * What the cloud runtime tests (lambda-runtime.test.ts, lambda-payload-limits.test.ts) run against: the
 * packaged functions behind the packaged REST API (lambda-cloud.ts), the API key in SSM under the name the
 * template was packaged with, and on the volume the catalogs the pod's `npm start` would have seeded.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { catalog, civitaiModel, hfModel, writeCatalog } from "./catalogs";
import { LambdaCloud } from "./lambda-cloud";
import { PACKAGE_PARAMS } from "./package";
import { packagedDir } from "./packaged";

export const KEY = "cloud-key-7f3e9b2a10";

export const juggernaut = civitaiModel("juggernautXL_v9.safetensors", "checkpoints", 123456, 789, { base_model: "SDXL 1.0" });
export const sdxl = hfModel("sd_xl_base_1.0.safetensors", "checkpoints");
export const spaced = hfModel("my model (v2).safetensors", "loras/sd15");
export const lora = civitaiModel("add_detail.safetensors", "loras/sd15", 62833, 58390);
export const smallCatalog = () => catalog([{ id: "sdxl", name: "SDXL", models: [juggernaut, sdxl, spaced] }], 21);

export interface Listing {
  version: number;
  stats: { total_count: number; present_count: number; queued_count: number; daemon_running: boolean };
  categories: { id: string; models: { file: string; status: string; on_disk_bytes: number }[] }[];
}

/** A multipart/form-data upload of `content` as field `file`: its bytes and Content-Type, as curl -F sends them. */
export async function form(content: string): Promise<{ body: Buffer; type: string }> {
  const data = new FormData();
  data.append("file", new Blob([content], { type: "application/json" }), "models.json");
  const request = new Request("http://localhost/", { method: "POST", body: data });
  return { body: Buffer.from(await request.arrayBuffer()), type: request.headers.get("content-type")! };
}

export interface SeededCloud {
  readonly cloud: LambdaCloud;
  /** Where the functions' STUDIO_DIR and models folder are, inside the folder that stands for the EFS mount. */
  readonly studioDir: string;
  readonly modelsDir: string;
}

/**
 * The functions of this run's package (global-package.ts), started as they are first called, with the
 * small catalog as "models" and one LoRA as "loras" on the volume, and no model on disk.
 */
export async function startSeededCloud(): Promise<SeededCloud> {
  const cloud = await LambdaCloud.start({
    packageDir: await packagedDir(),
    parameters: {
      EfsFileSystemArn: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123",
      EfsAccessPointArn: "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123",
      SubnetIds: "subnet-a",
      SecurityGroupIds: "sg-a",
    },
    // only for variables the template defines
    env: { CATALOG_REPO_URL: "file:///srv/git/catalog.git" },
    // the SecureString the operator put the key in, under the name the template was packaged with
    ssmParameters: { [PACKAGE_PARAMS.apiKeyParameter]: KEY },
  });
  const env = cloud.envOf("listModels");
  const studioDir = env.STUDIO_DIR!;
  const modelsDir = env.MODELS_DIR ?? path.join(env.COMFYUI_DIR!, "models");
  // what the pod's `npm start` seeded on the volume the functions mount
  await writeCatalog(studioDir, "models", smallCatalog());
  await writeCatalog(studioDir, "loras", catalog([{ id: "loras", name: "LoRAs", models: [lora] }]));
  await mkdir(modelsDir, { recursive: true });
  return { cloud, studioDir, modelsDir };
}
