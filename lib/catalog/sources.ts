/**
 * Where a catalog entry's file comes from: the one place that reads `url`, `hf_repo`/`hf_file`/`hf_revision`,
 * `civitai_version_id` (and `civitai_file_query`) and `source`. Downloads fetch the file from the entry's source and metadata describes
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

/**
 * A CivitAI version, and which of its files when not the primary one: the query CivitAI's download route
 * takes to serve another (`type`, `format`, `size`, `fp`), from the entry's `civitai_file_query`.
 */
export interface CivitaiReference {
  readonly versionId: number;
  readonly fileQuery?: string;
}

export interface EntrySources {
  readonly url?: string;
  readonly huggingface?: HfReference;
  readonly civitai?: CivitaiReference;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

const FILE_QUERY_NAMES = new Set(["type", "format", "size", "fp"]);
const FILE_QUERY_VALUE = /^[\w .+-]{1,64}$/;

/**
 * `civitai_file_query` as it may reach CivitAI: only the names its download route picks a file by, each
 * value plain text, in a fixed order; catalog text cannot add a `token` or any other parameter.
 */
function fileQueryOf(value: unknown): string | undefined {
  const given = text(value);
  if (given === undefined) return undefined;
  const kept = new URLSearchParams();
  for (const [name, part] of new URLSearchParams(given)) {
    if (FILE_QUERY_NAMES.has(name) && FILE_QUERY_VALUE.test(part) && !kept.has(name)) kept.set(name, part);
  }
  kept.sort();
  return kept.size > 0 ? kept.toString() : undefined;
}

const civitaiReference = (versionId: number, fileQuery: string | undefined): CivitaiReference =>
  fileQuery === undefined ? { versionId } : { versionId, fileQuery };

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
    ...(versionId !== undefined && { civitai: civitaiReference(versionId, fileQueryOf(model.civitai_file_query)) }),
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
