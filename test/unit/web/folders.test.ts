import { describe, expect, it } from "vitest";
import { asksForFolder, folderChoices, USUAL_FOLDERS } from "../../../web/admin/folders";
import type { Category, Model } from "../../../web/admin/types";

const model = (file: string, dest: string): Model => ({ name: file, file, dest, status: "not_downloaded", on_disk_bytes: 0 });

describe("the add box's folder picker", () => {
  it("offers the catalog's folders first, then ComfyUI's usual ones it lacks, each once", () => {
    const categories: Category[] = [
      { id: "wan", name: "Wan", models: [model("a.safetensors", "diffusion_models/WanVideo"), model("b.safetensors", "loras")] },
      { id: "more", name: "More", models: [model("c.safetensors", "loras")] },
    ];

    const choices = folderChoices(categories);

    expect(choices.slice(0, 2)).toEqual(["diffusion_models/WanVideo", "loras"]);
    expect(choices.slice(2)).toEqual(USUAL_FOLDERS.filter((folder) => folder !== "loras"));
    expect(folderChoices([])).toEqual([...USUAL_FOLDERS]);
  });

  it("opens on a 422 that asks for the folder, and only then", () => {
    expect(asksForFolder(422, "Cannot tell the ComfyUI folder of split/x.safetensors from its path: pass dest")).toBe(true);
    expect(asksForFolder(422, "Not a CivitAI or Hugging Face model link: https://example.com/x")).toBe(false);
    expect(asksForFolder(409, "The catalog already has x.safetensors: pass dest")).toBe(false);
  });
});
