import { describe, expect, it } from "vitest";
import { categoryNameOf, folderInRepoPath, folderOfCivitaiType } from "../../../lib/add/folders";

describe("folderOfCivitaiType", () => {
  it("puts each CivitAI model type in the ComfyUI folder that loads it", () => {
    const table = {
      Checkpoint: "checkpoints",
      LORA: "loras",
      LoCon: "loras",
      DoRA: "loras",
      TextualInversion: "embeddings",
      Hypernetwork: "hypernetworks",
      VAE: "vae",
      Controlnet: "controlnet",
      Upscaler: "upscale_models",
      MotionModule: "animatediff_models",
    };
    expect(Object.fromEntries(Object.keys(table).map((type) => [type, folderOfCivitaiType(type)]))).toEqual(table);
    expect(folderOfCivitaiType("lora")).toBe("loras");
  });

  it("knows no folder for types ComfyUI has none for, nor for names of Object's own members", () => {
    for (const type of ["Poses", "Wildcards", "Workflows", "AestheticGradient", "Other", "", "constructor", "__proto__", "toString", undefined]) {
      expect(folderOfCivitaiType(type), String(type)).toBeUndefined();
    }
  });
});

describe("folderInRepoPath", () => {
  it("takes the ComfyUI folder a repacked repo's path names, the one nearest the file", () => {
    expect(folderInRepoPath("split_files/vae/ae.safetensors")).toBe("vae");
    expect(folderInRepoPath("split_files/diffusion_models/flux1-dev.safetensors")).toBe("diffusion_models");
    expect(folderInRepoPath("split_files/text_encoders/clip_l.safetensors")).toBe("text_encoders");
    expect(folderInRepoPath("Loras/style/x.safetensors")).toBe("loras");
    expect(folderInRepoPath("loras/vae/x.safetensors")).toBe("vae");
    for (const folder of ["checkpoints", "clip", "unet", "controlnet", "upscale_models", "embeddings", "clip_vision"]) {
      expect(folderInRepoPath(`a/${folder}/m.safetensors`)).toBe(folder);
    }
  });

  it("finds none in a file at the repo's root, a folder ComfyUI does not have, or the file's own name", () => {
    expect(folderInRepoPath("sd_xl_base_1.0.safetensors")).toBeUndefined();
    expect(folderInRepoPath("weights/fp16/model.safetensors")).toBeUndefined();
    expect(folderInRepoPath("a/vae")).toBeUndefined();
    expect(folderInRepoPath("constructor/x.bin")).toBeUndefined();
  });
});

describe("categoryNameOf", () => {
  it("names a new category after the folder, and says a subfolder", () => {
    expect(categoryNameOf("loras")).toBe("LoRAs");
    expect(categoryNameOf("vae")).toBe("VAEs");
    expect(categoryNameOf("loras/sdxl")).toBe("LoRAs (sdxl)");
    expect(categoryNameOf("my_models")).toBe("my_models");
  });
});
