/**
 * POST /api/admin/models/add: a model from a pasted link (CivitAI page, download link or AIR; Hugging Face
 * blob or resolve URL) into the models catalog, then its download queued as POST /download/{f} queues it.
 * The link is recognised (link.ts), the model looked up within METADATA_TIMEOUT_SECONDS (civitai.ts,
 * huggingface.ts), its folder taken from its type or its path (folders.ts) unless `dest` says it, and its
 * category chosen; the entry is written under the catalog's lock, refused when either catalog already has it.
 */
import { z } from "zod";
import { ConflictError, InvalidError } from "../errors";
import { formatIssue } from "../issues";
import { CatalogModel, civitaiId, SafeDest, SafeFileName, type CatalogCategory, type CatalogDocument } from "../catalog/schema";
import { changeCatalog, loadCatalog, type CatalogName, type LoadedCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { queueDownload } from "../downloads/request";
import { lookUpCivitai } from "./civitai";
import { categoryNameOf, COMFYUI_FOLDER_NAMES, folderInRepoPath } from "./folders";
import { lookUpHuggingFace } from "./huggingface";
import { acceptedForms, linkHosts, recogniseLink, type ModelLink } from "./link";
import { startLookup, type Found } from "./upstream";

export const AddRequest = z.object({
  url: z.string().min(1).max(4096),
  dest: SafeDest.optional(),
  category: z.string().min(1).max(200).optional(),
  file: SafeFileName.optional(),
  download: z.boolean().default(true),
});
export type AddRequest = z.output<typeof AddRequest>;

export interface AddAnswer {
  status: "added";
  model: CatalogModel;
  category: string;
  /** null when the request said `"download": false`. */
  download: "queued" | "present" | null;
}

const NEW_CATEGORY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const needsDest = (from: string): InvalidError =>
  new InvalidError(
    `Cannot tell which ComfyUI models folder this model goes in from ${from}: pass "dest" with one ` +
      `(${COMFYUI_FOLDER_NAMES.slice(0, 12).join(", ")}, ...; a subfolder such as "loras/sdxl" too)`,
  );

/** What a request can be refused for before anything is asked of CivitAI or Hugging Face. */
function checkBeforeLookUp(link: ModelLink, request: AddRequest): void {
  if (link.kind !== "huggingface") return;
  const name = link.path.split("/").pop();
  if (request.file !== undefined && request.file !== name) {
    throw new InvalidError(`A Hugging Face link names its file ('${name}'); "file" picks one of a CivitAI version's files. Leave it out`);
  }
  if (request.dest === undefined && folderInRepoPath(link.path) === undefined) throw needsDest(`the folders of its path '${link.path}'`);
}

/** The entry to write: name, file and dest first, as the shipped catalogs have them; checked as an import is. */
function entryOf(found: Found, dest: string): CatalogModel {
  const { name, file, ...rest } = found.fields;
  const entry = { name, file, dest, ...rest };
  const checked = CatalogModel.safeParse(entry);
  if (!checked.success) {
    // the upstream's file name, say, is one no file on the volume can have
    throw new InvalidError(`The model cannot be a catalog entry: ${checked.error.issues.map(formatIssue).join("; ")}`);
  }
  return entry as CatalogModel;
}

const described = (name: CatalogName, model: CatalogModel) => `the ${name} catalog as '${model.name}' (${model.dest}/${model.file})`;

/**
 * A 409 when `catalog` has the entry already. In the models catalog a file name is the model's key (a
 * download, a delete, a removal name the model by it), so the same name in another folder conflicts too.
 */
function refuseDuplicate(catalog: LoadedCatalog, name: CatalogName, entry: CatalogModel): void {
  const versionId = civitaiId(entry.civitai_version_id);
  for (const model of catalog.models) {
    if (model.file === entry.file && (name === "models" || model.dest === entry.dest)) {
      throw new ConflictError(`'${entry.file}' is already in ${described(name, model)}`);
    }
    if (versionId !== undefined && civitaiId(model.civitai_version_id) === versionId) {
      throw new ConflictError(`CivitAI version ${versionId} is already in ${described(name, model)}`);
    }
  }
}

function newCategory(document: CatalogDocument, id: string, name: string): CatalogCategory {
  const category: CatalogCategory = { id, name, models: [] };
  document.categories.push(category);
  return category;
}

/**
 * The category the entry joins: the one asked for (made, with that id as its name, when the catalog has no
 * such one), else the first whose models are all in `dest`, else a new one named after the folder.
 */
function categoryFor(catalog: LoadedCatalog, wanted: string | undefined, dest: string): CatalogCategory {
  const { document } = catalog;
  if (wanted !== undefined) {
    const existing = document.categories.find((category) => category.id === wanted);
    if (existing) return existing;
    if (!NEW_CATEGORY_ID.test(wanted)) {
      throw new InvalidError(`No category '${wanted}', and a new category's id is letters, digits, '.', '_' and '-' (at most 100)`);
    }
    return newCategory(document, wanted, wanted);
  }
  const sharing = catalog.categories.find(({ models }) => models.length > 0 && models.every((model) => model.dest === dest));
  if (sharing) return sharing.category;
  const base = dest.replace(/\//g, "-");
  const taken = new Set(document.categories.map((category) => category.id));
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return newCategory(document, id, categoryNameOf(dest));
}

/** The look-up, the entry and the catalog's write; the download queued after, unless asked not to. */
export async function addModel(studio: Studio, request: AddRequest): Promise<AddAnswer> {
  const { config } = studio;
  const hosts = linkHosts(config.civitaiBaseUrl, config.hfEndpoint);
  const link = recogniseLink(request.url, hosts);
  if (!link) throw new InvalidError(acceptedForms(hosts));
  checkBeforeLookUp(link, request);
  const lookup = startLookup(config);
  const found = link.kind === "civitai" ? await lookUpCivitai(link, request.file, lookup) : await lookUpHuggingFace(link, lookup);
  const dest = request.dest ?? found.folder;
  if (dest === undefined) throw needsDest(found.folderFrom);
  const entry = entryOf(found, dest);
  // read, not locked: the loras catalog is one only people and sync change, and a model is added to models
  const loras = await loadCatalog(studio, "loras");
  const category = await changeCatalog(studio, "models", (catalog) => {
    refuseDuplicate(catalog, "models", entry);
    refuseDuplicate(loras, "loras", entry);
    const target = categoryFor(catalog, request.category, dest);
    target.models.push(entry);
    return { result: target.id, changed: true };
  });
  if (!request.download) return { status: "added", model: entry, category, download: null };
  const queued = await queueDownload(studio, entry.file);
  // "downloading": a download of that file name was already under way (a model removed and added again)
  return { status: "added", model: entry, category, download: queued.status === "present" ? "present" : "queued" };
}
