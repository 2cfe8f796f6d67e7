/**
 * Where a catalog entry's file comes from: the one place that reads `url`, `hf_repo`/`hf_file`/`hf_revision`,
 * `civitai_version_id` and `source`. Downloads fetch the file from the entry's source and metadata describes
 * the same file, so a catalog never gets the SHA256 of one file and the bytes of another (another revision,
 * another host).
 */
import { civitaiId, type CatalogModel } from "./schema";

export type SourceKind = "url" | "huggingface" | "civitai";

/** A file in a Hugging Face repo at one revision (`main` when the entry names none). */
export interface HfReference {
  readonly repo: string;
  readonly file: string;
  readonly revision: string;
}

export interface EntrySources {
  readonly url?: string;
  readonly huggingface?: HfReference;
  readonly civitai?: { readonly versionId: number };
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/** Every source the entry names, read once. */
export function entrySources(model: CatalogModel): EntrySources {
  const url = text(model.url);
  const repo = text(model.hf_repo);
  const versionId = civitaiId(model.civitai_version_id);
  return {
    ...(url !== undefined && { url }),
    ...(repo !== undefined && {
      huggingface: { repo, file: text(model.hf_file) ?? model.file, revision: text(model.hf_revision) ?? "main" },
    }),
    ...(versionId !== undefined && { civitai: { versionId } }),
  };
}

const DEFAULT_ORDER: readonly SourceKind[] = ["url", "huggingface", "civitai"];

/**
 * The source to use among `kinds`: the entry's own `source` when it names one the entry has (`hf` is
 * Hugging Face), else a direct `url`, then Hugging Face, then CivitAI.
 */
export function preferredSource(model: CatalogModel, kinds: readonly SourceKind[] = DEFAULT_ORDER): SourceKind | undefined {
  const sources = entrySources(model);
  const named = model.source === "hf" ? "huggingface" : model.source;
  const order = [...DEFAULT_ORDER.filter((kind) => kind === named), ...DEFAULT_ORDER];
  return order.find((kind) => kinds.includes(kind) && sources[kind] !== undefined);
}
