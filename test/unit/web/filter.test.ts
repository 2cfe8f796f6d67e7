import { describe, expect, it } from "vitest";
import { allTags, filterCatalog, isFiltered, NO_FILTERS, type Filters } from "../../../web/admin/filter";
import type { Category, Model } from "../../../web/admin/types";

const model = (file: string, extra: Partial<Model> = {}): Model => ({ name: file, file, dest: "checkpoints", status: "not_downloaded", on_disk_bytes: 0, ...extra });

const categories: Category[] = [
  {
    id: "sdxl",
    name: "SDXL Checkpoints",
    models: [
      model("juggernautXL_v9.safetensors", { name: "Juggernaut XL v9", base_model: "SDXL 1.0", tags: ["sdxl", "general"], status: "present" }),
      model("realvis.safetensors", { name: "RealVisXL V5.0", base_model: "SDXL 1.0", tags: ["sdxl", "photorealistic"], status: "downloading" }),
    ],
  },
  {
    id: "loras",
    name: "LoRAs",
    models: [
      model("detail.safetensors", { name: "Add Detail", dest: "loras", tags: ["detail"], status: "queued" }),
      model("broken.safetensors", { name: "Broken", dest: "loras", status: "error" }),
    ],
  },
];

const files = (result: Category[]) => result.map((category) => [category.id, category.models.map((m) => m.file)]);
const withFilters = (filters: Partial<Filters>) => filterCatalog(categories, { ...NO_FILTERS, ...filters });

describe("the catalog's search and filters", () => {
  it("shows everything without a filter", () => {
    expect(files(withFilters({}))).toEqual(files(categories));
    expect(isFiltered(NO_FILTERS)).toBe(false);
  });

  it("finds every word of the search in name, file, base model, folder or tags, in any case", () => {
    expect(files(withFilters({ query: "JUGGER" }))).toEqual([["sdxl", ["juggernautXL_v9.safetensors"]]]);
    expect(files(withFilters({ query: "sdxl photo" }))).toEqual([["sdxl", ["realvis.safetensors"]]]);
    expect(files(withFilters({ query: "loras broken" }))).toEqual([["loras", ["broken.safetensors"]]]);
    expect(files(withFilters({ query: "  " }))).toEqual(files(categories));
    expect(withFilters({ query: "nothing like it" })).toEqual([]);
  });

  it("counts a paused download as on its way", () => {
    const held: Category[] = [{ id: "held", name: "Held", models: [model("held.safetensors", { status: "paused" }), model("idle.safetensors")] }];

    expect(files(filterCatalog(held, { ...NO_FILTERS, status: "active" }))).toEqual([["held", ["held.safetensors"]]]);
  });

  it("filters by status, queued and downloading counting as one", () => {
    expect(files(withFilters({ status: "present" }))).toEqual([["sdxl", ["juggernautXL_v9.safetensors"]]]);
    expect(files(withFilters({ status: "active" }))).toEqual([
      ["sdxl", ["realvis.safetensors"]],
      ["loras", ["detail.safetensors"]],
    ]);
    expect(files(withFilters({ status: "error" }))).toEqual([["loras", ["broken.safetensors"]]]);
  });

  it("finds the files a verify found damaged: on disk, but not the catalog's", () => {
    const flipped = model("flipped.safetensors", { status: "present", verified: false, error: "The file is damaged" });
    const withDamage: Category[] = [{ ...categories[0]!, models: [...categories[0]!.models, flipped, model("fine.safetensors", { status: "present", verified: true })] }];

    expect(files(filterCatalog(withDamage, { ...NO_FILTERS, status: "damaged" }))).toEqual([["sdxl", ["flipped.safetensors"]]]);
    // still on disk: the "on disk" filter keeps it
    expect(files(filterCatalog(withDamage, { ...NO_FILTERS, status: "present" }))).toEqual([["sdxl", ["juggernautXL_v9.safetensors", "flipped.safetensors", "fine.safetensors"]]]);
  });

  it("takes the status the page shows, live progress included", () => {
    const result = filterCatalog(categories, { ...NO_FILTERS, status: "present" }, (m) => (m.file === "realvis.safetensors" ? "present" : m.status));

    expect(files(result)).toEqual([["sdxl", ["juggernautXL_v9.safetensors", "realvis.safetensors"]]]);
  });

  it("filters by category and by tag, and combines every filter", () => {
    expect(files(withFilters({ category: "loras" }))).toEqual([["loras", ["detail.safetensors", "broken.safetensors"]]]);
    expect(files(withFilters({ tag: "general" }))).toEqual([["sdxl", ["juggernautXL_v9.safetensors"]]]);
    expect(withFilters({ category: "loras", tag: "general" })).toEqual([]);
    expect(isFiltered({ ...NO_FILTERS, tag: "general" })).toBe(true);
  });

  it("offers every tag once, sorted, and copes with entries without tags", () => {
    expect(allTags(categories)).toEqual(["detail", "general", "photorealistic", "sdxl"]);
  });
});
