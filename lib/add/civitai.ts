/**
 * A CivitAI link's model, looked up on CIVITAI_BASE_URL (`/api/v1/model-versions/<id>`, `/api/v1/models/<id>`)
 * and described as a catalog entry like the ones metadata fills: the version's file (the primary one, or the
 * one asked for), its size and SHA256, base model, trained words, the ids, type and tags.
 */
import { InvalidError, NotFoundError, RefusedUpstreamError } from "../errors";
import type { Reply } from "../metadata/client";
import { CivitaiModelDetail, CivitaiVersionDetail, type CivitaiVersionFile } from "../metadata/shapes";
import { folderOfCivitaiType } from "./folders";
import type { CivitaiLink } from "./link";
import { ask, read, sha256Of, sizeGb, unexpected, withAddedTag, type Found, type Lookup } from "./upstream";

type Version = Omit<CivitaiVersionDetail, "modelId" | "model">;

/** CivitAI's refusals in the words downloads use for them (lib/downloads/engine/http.ts). */
function refusal(status: number, hasKey: boolean): RefusedUpstreamError {
  if (status === 401 && !hasKey) {
    return new RefusedUpstreamError("CivitAI needs a login to show this model: set CIVITAI_API_KEY (an API key from your CivitAI account settings)");
  }
  if (status === 401) return new RefusedUpstreamError("CivitAI refused CIVITAI_API_KEY (HTTP 401): check that the key is valid");
  return new RefusedUpstreamError(`CivitAI refused to show this model (HTTP 403): the version may be in early access${hasKey ? "" : ", or need CIVITAI_API_KEY"}`);
}

async function civitaiJson(path: string, missing: string, lookup: Lookup): Promise<Reply> {
  const { config } = lookup;
  // every id in `path` is digits (link.ts): the key cannot be led to another of CivitAI's paths
  const answer = await ask(new URL(`${config.civitaiBaseUrl}${path}`), config.civitaiApiKey, "CivitAI", lookup);
  if (answer.ok) return answer;
  if (answer.status === 404) {
    answer.discard();
    throw new NotFoundError(missing);
  }
  if (answer.status === 401 || answer.status === 403) {
    answer.discard();
    throw refusal(answer.status, config.civitaiApiKey !== undefined);
  }
  throw unexpected(answer, "CivitAI");
}

const modelDetail = async (modelId: number, lookup: Lookup): Promise<CivitaiModelDetail> =>
  read(await civitaiJson(`/api/v1/models/${modelId}`, `CivitAI has no model ${modelId}`, lookup), CivitaiModelDetail, "CivitAI", lookup);

/** The newest of the model's published versions (CivitAI lists them newest first; publishedAt decides). */
function newestPublished(model: CivitaiModelDetail): Version {
  const published = model.modelVersions.filter((version) => (version.status ?? "Published") === "Published");
  const newest = published.reduce<Version | undefined>(
    (best, version) => (best === undefined || (version.publishedAt ?? "") > (best.publishedAt ?? "") ? version : best),
    undefined,
  );
  if (!newest) throw new NotFoundError(`CivitAI model ${model.id} ('${model.name}') has no published version`);
  return newest;
}

const DOWNLOAD_QUERY = ["type", "format", "size", "fp"] as const;
const same = (a: string | null | undefined, b: string | undefined) => b === undefined || (a ?? "").toLowerCase() === b.toLowerCase();

/** The file a download link's `type`/`format`/`size`/`fp` picks, as CivitAI's download route picks it. */
const matchesQuery = (file: CivitaiVersionFile, query: Readonly<Record<string, string>>): boolean =>
  same(file.type, query.type) && same(file.metadata?.format, query.format) && same(file.metadata?.size, query.size) && same(file.metadata?.fp, query.fp);

/** The version's file the link or `wanted` names, else its primary one; a 422 lists the names when none fits. */
function pickFile(version: Version, link: CivitaiLink, wanted: string | undefined): CivitaiVersionFile {
  const { files } = version;
  const file = wanted !== undefined
    ? files.find((f) => f.name === wanted)
    : link.fileId !== undefined
      ? files.find((f) => f.id === link.fileId)
      : link.fileQuery !== undefined
        ? files.find((f) => matchesQuery(f, link.fileQuery!))
        : (files.find((f) => f.primary) ?? files[0]);
  if (file) return file;
  if (files.length === 0) throw new NotFoundError(`CivitAI version ${version.id} has no files to download`);
  const asked = wanted !== undefined ? `named '${wanted}'` : link.fileId !== undefined ? `with id ${link.fileId}` : "of the type and format the link asks for";
  const names = files.map((f) => `'${f.name}'`).join(", ");
  throw new InvalidError(`CivitAI version ${version.id} has no file ${asked}. Its files: ${names}; pass "file" with one of them`);
}

/**
 * The query that makes CivitAI's download route (`/api/download/models/<versionId>`, which serves the primary
 * file) serve this one instead: the one in the file's own downloadUrl, else its type and format. None for the
 * primary file.
 */
function downloadQuery(file: CivitaiVersionFile, version: Version): string | undefined {
  const primary = version.files.find((f) => f.primary) ?? version.files[0];
  if (file === primary) return undefined;
  let given: URLSearchParams | undefined;
  try {
    given = file.downloadUrl === undefined ? undefined : new URL(file.downloadUrl).searchParams;
  } catch {
    given = undefined;
  }
  const own: Record<string, string | null | undefined> = { type: file.type, format: file.metadata?.format, size: file.metadata?.size, fp: file.metadata?.fp };
  const query = new URLSearchParams();
  for (const name of DOWNLOAD_QUERY) {
    const value = given?.has("type") ? given.get(name) : own[name];
    if (value) query.set(name, value);
  }
  return query.size > 0 ? query.toString() : undefined;
}

/** The link's model: its version (the newest published one when the link names none) and file, as entry fields. */
export async function lookUpCivitai(link: CivitaiLink, wanted: string | undefined, lookup: Lookup): Promise<Found> {
  let version: Version;
  let model: CivitaiModelDetail;
  if (link.versionId !== undefined) {
    const answer = await civitaiJson(`/api/v1/model-versions/${link.versionId}`, `CivitAI has no model version ${link.versionId}`, lookup);
    const detail = await read(answer, CivitaiVersionDetail, "CivitAI", lookup);
    model = await modelDetail(detail.modelId, lookup);
    version = detail;
  } else {
    model = await modelDetail(link.modelId!, lookup);
    version = newestPublished(model);
  }
  const file = pickFile(version, link, wanted);
  const sha256 = sha256Of(file.hashes?.SHA256);
  const query = downloadQuery(file, version);
  const fields = {
    name: `${model.name} ${version.name}`,
    file: file.name,
    source: "civitai",
    ...(file.sizeKB !== undefined && { size_gb: sizeGb(file.sizeKB * 1024) }),
    tags: withAddedTag(model.tags),
    ...(version.baseModel !== undefined && { base_model: version.baseModel }),
    ...(version.trainedWords !== undefined && { trainedWords: version.trainedWords }),
    civitai_model_id: model.id,
    civitai_version_id: String(version.id),
    civitai_version: version.name,
    ...(model.type !== undefined && { civitai_type: model.type }),
    ...(sha256 !== undefined && { sha256 }),
    ...(query !== undefined && { civitai_file_query: query }),
  };
  return { fields, folder: folderOfCivitaiType(model.type), folderFrom: `its CivitAI type '${model.type ?? "unknown"}'` };
}
