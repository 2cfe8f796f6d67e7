/**
 * What CivitAI and Hugging Face say of a catalog entry, as the catalog fields it owns. The requests go
 * through ./client.ts (timeouts, back-off, credentials to their own host, the address policy).
 */
import type { Config } from "../config";
import { sizeGb, type CatalogModel } from "../catalog/schema";
import { entrySources, preferredSource, type HfReference } from "../catalog/sources";
import { hfUrls } from "../net/hf-urls";
import { getJson, httpError, MetadataError, parsed } from "./client";
import { CivitaiModel, CivitaiVersion, HfInfo } from "./shapes";

export { MetadataError } from "./client";

/** The fields a fetch updates, and a summary for the activity log. */
export interface Fetched {
  readonly fields: Record<string, unknown>;
  readonly summary: string;
}

async function civitai(model: CatalogModel, versionId: number, config: Config): Promise<Fetched> {
  const base = config.civitaiBaseUrl;
  const key = config.civitaiApiKey;
  // civitai_version_id is digits (the catalog's schema), so it cannot lead the key to another path
  const versionResponse = await getJson(new URL(`${base}/api/v1/model-versions/${versionId}`), key, config);
  if (!versionResponse.ok) throw httpError(versionResponse, "CivitAI");
  const version = await parsed(versionResponse, CivitaiVersion, "CivitAI");
  const modelResponse = await getJson(new URL(`${base}/api/v1/models/${version.modelId}`), key, config);
  if (!modelResponse.ok) throw httpError(modelResponse, "CivitAI");
  const { tags } = await parsed(modelResponse, CivitaiModel, "CivitAI");
  // the file downloads fetch: the primary one, unless the entry's file query picks another (an entry added by
  // URL then names it as CivitAI does)
  const picked = entrySources(model).civitai?.fileQuery === undefined ? undefined : version.files.find((file) => file.name === model.file);
  const primary = picked ?? version.files.find((file) => file.primary) ?? version.files[0];
  const sha256 = primary?.hashes?.SHA256?.toLowerCase();
  const fields: Record<string, unknown> = {
    civitai_model_id: version.modelId,
    civitai_version: version.name,
    civitai_tags: tags,
    ...(version.baseModel !== undefined && { base_model: version.baseModel }),
    ...(version.trainedWords !== undefined && { trainedWords: version.trainedWords }),
    ...(version.model?.type !== undefined && { civitai_type: version.model.type }),
    ...((version.updatedAt ?? version.publishedAt) && { lastModified: version.updatedAt ?? version.publishedAt }),
    ...(primary?.sizeKB !== undefined && { size_gb: sizeGb(primary.sizeKB * 1024) }),
    ...(sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256) && { sha256 }),
    ...(model.name_locked !== true && version.model && { name: `${version.model.name} ${version.name}` }),
  };
  return { fields, summary: `base_model=${version.baseModel ?? "?"}, +${tags.length} civitai_tags` };
}

async function huggingFace({ repo, file, revision }: HfReference, config: Config): Promise<Fetched> {
  const token = config.hfToken;
  // the repo and file are checked and encoded (a BadHfReference says what is wrong with them): HF_TOKEN
  // goes to this repo's two URLs and nowhere else. The revision is the one downloads fetch, so the SHA256
  // read here is that of the bytes a download gets.
  const urls = hfUrls(config.hfEndpoint, repo, file, revision);
  const gated = (status: number) =>
    new MetadataError(`HTTP ${status}: the repo is gated or private: set HF_TOKEN and accept the licence at ${urls.page}`);
  const info = await getJson(urls.api, token, config);
  if (info.status === 401 || info.status === 403) {
    info.discard();
    throw gated(info.status);
  }
  if (!info.ok) throw httpError(info, "Hugging Face");
  const { lastModified } = await parsed(info, HfInfo, "Hugging Face");
  const head = await getJson(urls.resolve, token, config, "HEAD");
  head.discard();
  if (head.status === 401 || head.status === 403) throw gated(head.status);
  if (head.status >= 400) throw httpError(head, "Hugging Face");
  const size = Number(head.header("x-linked-size") ?? head.header("content-length"));
  const sha256 = /^"?([0-9a-f]{64})"?$/i.exec(head.header("x-linked-etag") ?? "")?.[1]?.toLowerCase();
  const fields: Record<string, unknown> = {
    ...(lastModified !== undefined && { lastModified }),
    ...(Number.isSafeInteger(size) && size > 0 && { size_gb: sizeGb(size) }),
    ...(sha256 !== undefined && { sha256 }),
  };
  return { fields, summary: `lastModified=${lastModified ?? "?"}, size_gb=${fields.size_gb ?? "?"}${sha256 ? ", sha256" : ""}` };
}

/** The entry's own source when it has both a CivitAI version and a Hugging Face repo; else the one downloads use. */
export function fetchMetadata(model: CatalogModel, config: Config): Promise<Fetched> {
  const sources = entrySources(model);
  switch (preferredSource(model, ["huggingface", "civitai"])) {
    case "huggingface":
      return huggingFace(sources.huggingface!, config);
    case "civitai":
      return civitai(model, sources.civitai!.versionId, config);
    default:
      return Promise.reject(new MetadataError("no civitai_version_id or hf_repo to fetch from"));
  }
}
