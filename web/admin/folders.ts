/** Where an added model can go: the folder picker's choices, and the API's answer that asks for one. */

/** ComfyUI's usual model folders, offered beside the ones the catalog already uses. */
export const USUAL_FOLDERS = [
  "checkpoints",
  "diffusion_models",
  "loras",
  "vae",
  "text_encoders",
  "clip",
  "clip_vision",
  "controlnet",
  "upscale_models",
  "embeddings",
  "unet",
  "animatediff_models",
  "ipadapter",
  "style_models",
  "hypernetworks",
] as const;

/** The folders a model can go to: the catalog's own first (sorted), then the usual ones it lacks. */
export function folderChoices(categories: readonly { readonly models: readonly { readonly dest: string }[] }[]): string[] {
  const used = [...new Set(categories.flatMap((category) => category.models.map((model) => model.dest)))].sort((a, b) => a.localeCompare(b));
  return [...used, ...USUAL_FOLDERS.filter((folder) => !used.includes(folder))];
}

/** A 422 that asks for the folder: the API could not infer `dest` from the link. */
export const asksForFolder = (status: number, detail: string): boolean => status === 422 && /\bdest\b|folder/i.test(detail);
