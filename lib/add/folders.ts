/**
 * Which ComfyUI models folder a model added by URL goes to: from CivitAI's model type, or from a folder of
 * ComfyUI's named in a Hugging Face file's path (Comfy-Org's repackaged repos keep `split_files/vae/...`).
 * Pure tables; a type or a path they do not know is the caller's to refuse, asking for `dest`.
 */

/** CivitAI's model types (its ModelType enum, compared without case) and the folder ComfyUI loads each from. */
const CIVITAI_TYPE_FOLDER: Readonly<Record<string, string>> = {
  checkpoint: "checkpoints",
  lora: "loras",
  locon: "loras",
  dora: "loras",
  lycoris: "loras",
  textualinversion: "embeddings",
  hypernetwork: "hypernetworks",
  vae: "vae",
  controlnet: "controlnet",
  upscaler: "upscale_models",
  motionmodule: "animatediff_models",
};

/** The folder for a CivitAI model type; undefined for one ComfyUI has no folder for (Poses, Wildcards, Workflows, Other...). */
export function folderOfCivitaiType(type: string | undefined): string | undefined {
  const key = type?.toLowerCase();
  return key !== undefined && Object.hasOwn(CIVITAI_TYPE_FOLDER, key) ? CIVITAI_TYPE_FOLDER[key] : undefined;
}

/**
 * ComfyUI's model folders (folder_paths.py), and those of the custom nodes most models come for, each with
 * the name of the category a model added there starts when no category shares its folder.
 */
const COMFYUI_FOLDERS: Readonly<Record<string, string>> = {
  checkpoints: "Checkpoints",
  diffusion_models: "Diffusion models",
  unet: "Diffusion models (unet)",
  loras: "LoRAs",
  vae: "VAEs",
  vae_approx: "VAE approximations",
  text_encoders: "Text encoders",
  clip: "Text encoders (clip)",
  clip_vision: "CLIP vision",
  controlnet: "ControlNets",
  t2i_adapter: "T2I adapters",
  upscale_models: "Upscalers",
  latent_upscale_models: "Latent upscalers",
  embeddings: "Embeddings",
  hypernetworks: "Hypernetworks",
  style_models: "Style models",
  gligen: "GLIGEN",
  photomaker: "PhotoMaker",
  model_patches: "Model patches",
  audio_encoders: "Audio encoders",
  animatediff_models: "AnimateDiff motion modules",
  animatediff_motion_lora: "AnimateDiff motion LoRAs",
  ipadapter: "IP-Adapters",
  instantid: "InstantID",
  insightface: "InsightFace",
  ultralytics: "Detectors (ultralytics)",
  sams: "SAM models",
  facerestore_models: "Face restorers",
};

export const COMFYUI_FOLDER_NAMES: readonly string[] = Object.keys(COMFYUI_FOLDERS);

/**
 * The ComfyUI folder a repo path names: the folder nearest the file among its folders (`split_files/vae/x`
 * is vae), matched without case; undefined when none is one of ComfyUI's.
 */
export function folderInRepoPath(path: string): string | undefined {
  const folders = path.split("/").slice(0, -1).reverse();
  return folders.map((folder) => folder.toLowerCase()).find((folder) => Object.hasOwn(COMFYUI_FOLDERS, folder));
}

/** A category's name for models in `dest`: the folder's own name for one of ComfyUI's, else the folder as it is. */
export function categoryNameOf(dest: string): string {
  const top = dest.split("/")[0] ?? dest;
  const name = Object.hasOwn(COMFYUI_FOLDERS, top) ? COMFYUI_FOLDERS[top]! : top;
  return top === dest ? name : `${name} (${dest.slice(top.length + 1)})`;
}
