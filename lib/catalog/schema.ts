/**
 * The catalog format (catalogs/models.json, loras.json): `{version, date, categories: [{id, name, models}]}`.
 * Objects are loose on purpose: fields we do not know (written by other tools, or by later versions of
 * this one) are carried through every read-modify-write untouched.
 */
import { z } from "zod";
import { formatIssue } from "../issues";

// Why a name could point outside its folder, or undefined when it cannot.
const unsafeReason = (value: string): string | undefined => {
  if (value.includes("\0")) return "must not contain a NUL byte";
  if (value.includes("\\")) return "must not contain a backslash";
  if (value.includes("..")) return "must not contain '..'";
  if (value.startsWith("/") || /^[A-Za-z]:/.test(value)) return "must be a relative path";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return "must not contain control characters";
  return undefined;
};

const MAX_FILENAME_BYTES = 240;

const refuseUnsafe =
  (extra: (value: string) => string | undefined) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const reason = unsafeReason(value) ?? extra(value);
    if (reason !== undefined) ctx.addIssue({ code: "custom", message: reason });
  };

export const SafeFileName = z
  .string()
  .min(1)
  .max(255)
  .superRefine(
    refuseUnsafe((value) => {
      if (value.includes("/")) return "must be a bare filename, without '/'";
      if (value === "." || value.trim() === "") return "is not a filename";
      // a file system takes 255 bytes a name, and the download needs room for ".part.json" beside it
      if (Buffer.byteLength(value) > MAX_FILENAME_BYTES) return `must be at most ${MAX_FILENAME_BYTES} bytes long`;
      return undefined;
    }),
  );

export const SafeDest = z
  .string()
  .min(1)
  .max(1024)
  .superRefine(
    refuseUnsafe((value) =>
      value.split("/").some((segment) => segment === "" || segment === ".")
        ? "must be folders separated by single '/', with no empty or '.' part"
        : undefined,
    ),
  );

// CivitAI ids arrive as digits in a string ("123456") or as numbers; both mean the same id.
const CivitaiId = z.union([z.string().regex(/^\d{1,15}$/, "must be digits"), z.number().int().positive()]);

export const CatalogModel = z.looseObject({
  name: z.string().min(1),
  file: SafeFileName,
  dest: SafeDest,
  source: z.string().nullish(),
  size_gb: z.number().nonnegative().nullish(),
  tags: z.array(z.string()).nullish(),
  base_model: z.string().nullish(),
  hf_repo: z.string().nullish(),
  hf_file: z.string().nullish(),
  url: z.string().nullish(),
  civitai_version_id: CivitaiId.nullish(),
  civitai_model_id: CivitaiId.nullish(),
  sha256: z
    .string()
    .regex(/^[A-Fa-f0-9]{64}$/, "must be 64 hex characters")
    .nullish(),
});
export type CatalogModel = z.infer<typeof CatalogModel>;

// Entries stay `unknown` here: one bad entry is skipped (on load) or reported (on import) on its own,
// without making the whole document unreadable.
export const CatalogCategory = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  models: z.array(z.unknown()),
});
export type CatalogCategory = z.infer<typeof CatalogCategory>;

export const CatalogDocument = z.looseObject({
  version: z.number().nullish(),
  date: z.string().nullish(),
  categories: z.array(CatalogCategory),
});
export type CatalogDocument = z.infer<typeof CatalogDocument>;

/**
 * An entry as this service may use it. One whose name, file or dest is missing or unsafe is unusable; a
 * wrong optional field (a `size_gb` in quotes, an empty `sha256`) is only left out of what the service
 * reads, so that the model stays listed. The document itself keeps every field as it was.
 */
export function usableEntry(entry: unknown): { model: CatalogModel | undefined; problems: string[] } {
  const strict = CatalogModel.safeParse(entry);
  if (strict.success) return { model: strict.data, problems: [] };
  const problems = strict.error.issues.map(formatIssue);
  const bad = new Set(strict.error.issues.map((issue) => issue.path[0]));
  if (bad.has("name") || bad.has("file") || bad.has("dest") || bad.size === 0 || typeof entry !== "object" || entry === null) {
    return { model: undefined, problems };
  }
  const rest = Object.fromEntries(Object.entries(entry).filter(([key]) => !bad.has(key)));
  const lenient = CatalogModel.safeParse(rest);
  return { model: lenient.success ? lenient.data : undefined, problems };
}

export const emptyCatalog = (): CatalogDocument => ({ version: 0, date: "", categories: [] });

const GIB = 1024 ** 3;

/** Bytes as a catalog entry's `size_gb`: GiB, two decimals. */
export const sizeGb = (bytes: number): number => Math.round((bytes / GIB) * 100) / 100;

/** The id as the civitai-map keys it, or undefined when the entry has none. */
export const civitaiId = (value: string | number | null | undefined): number | undefined =>
  value === null || value === undefined ? undefined : Number(value);
