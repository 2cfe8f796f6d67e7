import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { Config } from "../../config";
import type { CatalogModel } from "../../catalog/schema";
import type { Secret } from "../../secret";
import { USER_AGENT } from "../download/http";

/**
 * What CivitAI and Hugging Face say of a catalog entry, as the catalog fields it owns. Polite to both:
 * a timeout on every request, back-off on 429 as Retry-After asks, credentials to their own API host only.
 */
export class MetadataError extends Error {}

/** The fields a fetch updates, and a summary for the activity log. */
export interface Fetched {
  readonly fields: Record<string, unknown>;
  readonly summary: string;
}

const MAX_429_RETRIES = 3;
// A reset connection or a 500/502/503/504 is most often gone a second later (a CDN edge, a deploy, a
// keep-alive connection closed just as it was reused): two more tries before the model is marked failed.
const MAX_TRANSIENT_RETRIES = 2;
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const GIB = 1024 ** 3;

async function getJson(url: URL, token: Secret | undefined, config: Config, method = "GET"): Promise<Response> {
  let limited = 0;
  let transient = 0;
  const backOff = async () => {
    await sleep(config.downloadRetryBaseMs * 2 ** transient);
    transient += 1;
  };
  for (;;) {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        redirect: method === "HEAD" ? "manual" : "follow",
        headers: {
          "user-agent": USER_AGENT,
          accept: "application/json",
          ...(token && { authorization: `Bearer ${token.reveal()}` }),
        },
        signal: AbortSignal.timeout(config.metadataTimeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      // a timeout already took METADATA_TIMEOUT_SECONDS: another try would double a run's worst case
      if (name === "TimeoutError") throw new MetadataError(`timed out after ${config.metadataTimeoutMs / 1000} s`);
      if (transient < MAX_TRANSIENT_RETRIES) {
        await backOff();
        continue;
      }
      throw new MetadataError(`network error: ${networkCause(error as Error)}`);
    }
    if (response.status === 429 && limited < MAX_429_RETRIES) {
      await response.body?.cancel();
      const seconds = Number(response.headers.get("retry-after"));
      await sleep(Math.min(60_000, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 2_000 * 2 ** limited));
      limited += 1;
      continue;
    }
    if (TRANSIENT_STATUSES.has(response.status) && transient < MAX_TRANSIENT_RETRIES) {
      await response.body?.cancel();
      await backOff();
      continue;
    }
    return response;
  }
}

/** undici says only "fetch failed"; the reason (ECONNRESET, ENOTFOUND, ...) is in its cause. */
function networkCause(error: Error): string {
  const cause = error.cause as NodeJS.ErrnoException | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

const CivitaiVersion = z.object({
  id: z.number(),
  modelId: z.number(),
  name: z.string(),
  baseModel: z.string().optional(),
  trainedWords: z.array(z.string()).optional(),
  updatedAt: z.string().optional(),
  publishedAt: z.string().nullish(),
  model: z.object({ name: z.string(), type: z.string().optional(), nsfw: z.boolean().optional() }).optional(),
  files: z
    .array(
      z.object({
        name: z.string(),
        sizeKB: z.number().optional(),
        primary: z.boolean().optional(),
        hashes: z.object({ SHA256: z.string().optional() }).loose().optional(),
      }),
    )
    .default([]),
});
const CivitaiModel = z.object({ tags: z.array(z.string()).default([]) });

async function civitai(model: CatalogModel, config: Config): Promise<Fetched> {
  const base = config.civitaiBaseUrl;
  const key = config.civitaiApiKey;
  const versionResponse = await getJson(new URL(`${base}/api/v1/model-versions/${model.civitai_version_id}`), key, config);
  if (!versionResponse.ok) throw httpError(versionResponse, "CivitAI");
  const version = CivitaiVersion.parse(await versionResponse.json());
  const modelResponse = await getJson(new URL(`${base}/api/v1/models/${version.modelId}`), key, config);
  if (!modelResponse.ok) throw httpError(modelResponse, "CivitAI");
  const { tags } = CivitaiModel.parse(await modelResponse.json());
  const primary = version.files.find((file) => file.primary) ?? version.files[0];
  const sha256 = primary?.hashes?.SHA256?.toLowerCase();
  const fields: Record<string, unknown> = {
    civitai_model_id: version.modelId,
    civitai_version: version.name,
    civitai_tags: tags,
    ...(version.baseModel !== undefined && { base_model: version.baseModel }),
    ...(version.trainedWords !== undefined && { trainedWords: version.trainedWords }),
    ...(version.model?.type !== undefined && { civitai_type: version.model.type }),
    ...((version.updatedAt ?? version.publishedAt) && { lastModified: version.updatedAt ?? version.publishedAt }),
    ...(primary?.sizeKB !== undefined && { size_gb: Math.round(((primary.sizeKB * 1024) / GIB) * 100) / 100 }),
    ...(sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256) && { sha256 }),
    ...(model.name_locked !== true && version.model && { name: `${version.model.name} ${version.name}` }),
  };
  return { fields, summary: `base_model=${version.baseModel ?? "?"}, +${tags.length} civitai_tags` };
}

async function huggingFace(model: CatalogModel, config: Config): Promise<Fetched> {
  const repo = model.hf_repo as string;
  const token = config.hfToken;
  const page = `${config.hfEndpoint}/${repo}`;
  const info = await getJson(new URL(`${config.hfEndpoint}/api/models/${repo}`), token, config);
  if (info.status === 401 || info.status === 403) {
    throw new MetadataError(`HTTP ${info.status}: the repo is gated or private: set HF_TOKEN and accept the licence at ${page}`);
  }
  if (!info.ok) throw httpError(info, "Hugging Face");
  const { lastModified } = z.object({ lastModified: z.string().optional() }).loose().parse(await info.json());
  const file = (model.hf_file ?? model.file).split("/").map(encodeURIComponent).join("/");
  const head = await getJson(new URL(`${config.hfEndpoint}/${repo}/resolve/main/${file}`), token, config, "HEAD");
  if (head.status === 401 || head.status === 403) {
    throw new MetadataError(`HTTP ${head.status}: the repo is gated or private: set HF_TOKEN and accept the licence at ${page}`);
  }
  if (head.status >= 400) throw httpError(head, "Hugging Face");
  const size = Number(head.headers.get("x-linked-size") ?? head.headers.get("content-length"));
  const sha256 = /^"?([0-9a-f]{64})"?$/i.exec(head.headers.get("x-linked-etag") ?? "")?.[1]?.toLowerCase();
  const fields: Record<string, unknown> = {
    ...(lastModified !== undefined && { lastModified }),
    ...(Number.isSafeInteger(size) && size > 0 && { size_gb: Math.round((size / GIB) * 100) / 100 }),
    ...(sha256 !== undefined && { sha256 }),
  };
  return { fields, summary: `lastModified=${lastModified ?? "?"}, size_gb=${fields.size_gb ?? "?"}${sha256 ? ", sha256" : ""}` };
}

function httpError(response: Response, where: string): MetadataError {
  void response.body?.cancel();
  return new MetadataError(response.status === 404 ? "HTTP 404" : `HTTP ${response.status} from ${where}`);
}

/** The entry's own `source` decides when it has both a CivitAI version and a Hugging Face repo. */
export function fetchMetadata(model: CatalogModel, config: Config): Promise<Fetched> {
  const hasCivitai = model.civitai_version_id !== undefined && model.civitai_version_id !== null;
  const hasHf = typeof model.hf_repo === "string" && model.hf_repo !== "";
  const preferHf = model.source === "huggingface" || model.source === "hf";
  if (hasHf && (preferHf || !hasCivitai)) return huggingFace(model, config);
  if (hasCivitai) return civitai(model, config);
  return Promise.reject(new MetadataError("no civitai_version_id or hf_repo to fetch from"));
}
