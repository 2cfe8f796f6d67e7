/**
 * What CivitAI and Hugging Face say of a catalog entry, as the catalog fields it owns. Polite to both:
 * a timeout on every request, back-off on 429 as Retry-After asks (the shared policy, lib/net/retry.ts),
 * credentials to their own API host only, and only to addresses the policy allows
 * (lib/net/address-policy.ts), redirects included. An error says the status and the host, never what the
 * server wrote: that text reaches the activity log.
 */
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { Config } from "../config";
import type { CatalogModel } from "../catalog/schema";
import { entrySources, preferredSource, type HfReference } from "../catalog/sources";
import { addressPolicy, RefusedDestinationError, type AddressPolicy } from "../net/address-policy";
import { hfUrls } from "../net/hf-urls";
import { send } from "../net/request";
import { GaveUpError, retrying, type Retryable, type RetryPolicy } from "../net/retry";
import type { Secret } from "../secret";
import { USER_AGENT } from "../downloads/engine/http";

export class MetadataError extends Error {}

/** The fields a fetch updates, and a summary for the activity log. */
export interface Fetched {
  readonly fields: Record<string, unknown>;
  readonly summary: string;
}

// A 429 is waited out as its Retry-After asks (a minute at most), else about 2 s, 4 s, 8 s: three more tries.
const RATE_LIMITED: RetryPolicy = { maxAttempts: 1 + 3, baseMs: 2_000, maxWaitMs: 60_000 };
// A reset connection or a 500/502/503/504 is most often gone a second later (a CDN edge, a deploy, a
// keep-alive connection closed just as it was reused): two more tries before the model is marked failed.
const transientPolicy = (config: Config): RetryPolicy => ({ maxAttempts: 1 + 2, baseMs: config.downloadRetryBaseMs });
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const MAX_REDIRECTS = 10;
// Model info of a repo with many files runs to a few MB; more is not an answer we want.
const MAX_JSON_BYTES = 32 * 1024 * 1024;
const GIB = 1024 ** 3;

/** An answer: its status and headers, its body read (as JSON) only when asked, else discarded. */
interface Reply {
  readonly status: number;
  readonly ok: boolean;
  header(name: string): string | undefined;
  json(): Promise<unknown>;
  discard(): void;
}

function reply(res: IncomingMessage, url: URL, signal: AbortSignal, timedOut: () => MetadataError): Reply {
  const status = res.statusCode ?? 0;
  const readJson = async (): Promise<unknown> => {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_JSON_BYTES) throw new MetadataError(`the answer from ${url.host} is over ${MAX_JSON_BYTES / 1024 ** 2} MB`);
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof MetadataError) throw error;
      throw signal.aborted ? timedOut() : new MetadataError(`network error: ${code(error)}`);
    } finally {
      res.destroy();
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    } catch {
      // never the text itself in the message: it is the server's, and the message reaches the activity log
      throw new MetadataError(`${url.host} answered HTTP ${status} with something that is not JSON`);
    }
  };
  return {
    status,
    ok: status >= 200 && status < 300,
    header: (name) => {
      const value = res.headers[name];
      return typeof value === "string" ? value : undefined;
    },
    json: readJson,
    discard: () => res.destroy(),
  };
}

const code = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/**
 * One GET (redirects followed by hand, each to an allowed address; the token only to `url`'s own origin)
 * or HEAD (redirects not followed: Hugging Face's size and SHA256 are on the redirect itself).
 */
async function request(url: URL, token: Secret | undefined, policy: AddressPolicy, method: string, signal: AbortSignal): Promise<IncomingMessage> {
  let at = url;
  for (let hops = 0; ; hops++) {
    const headers = {
      "user-agent": USER_AGENT,
      accept: "application/json",
      ...(token && at.origin === url.origin && { authorization: `Bearer ${token.reveal()}` }),
    };
    const res = await send(at, { method, headers, signal, policy });
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    if (method === "HEAD" || status < 300 || status >= 400 || location === undefined) return res;
    res.resume();
    if (hops >= MAX_REDIRECTS) throw new MetadataError(`too many redirects from ${url.host}`);
    try {
      at = new URL(location, at);
    } catch {
      throw new MetadataError(`${at.host} redirected to something that is not a URL`);
    }
  }
}

/** An answer that asks for another try (429, or a 5xx): it is what the caller gets when the tries run out. */
class TryAgain extends Error {
  readonly answer: Reply;

  constructor(answer: Reply) {
    super(`HTTP ${answer.status}`);
    this.answer = answer;
  }
}

/** A reset connection or a 5xx is worth another try; a timeout, a refused address, a 429 are not (here). */
function transient(error: unknown): Retryable | undefined {
  if (error instanceof TryAgain) return TRANSIENT_STATUSES.has(error.answer.status) ? { message: error.message } : undefined;
  return error instanceof MetadataError ? undefined : { message: `network error: ${code(error)}` };
}

/** A 429 is waited out as its Retry-After (in seconds) asks. */
function rateLimited(error: unknown): Retryable | undefined {
  if (!(error instanceof TryAgain) || error.answer.status !== 429) return undefined;
  const seconds = Number(error.answer.header("retry-after"));
  return { message: error.message, retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined };
}

/** One try: its answer, or TryAgain for a 429 or a 5xx (their bodies discarded), or the failure as it came. */
async function once(url: URL, token: Secret | undefined, config: Config, method: string): Promise<Reply> {
  const timedOut = () => new MetadataError(`timed out after ${config.metadataTimeoutMs / 1000} s`);
  // each try has the whole timeout, for the answer and its body
  const signal = AbortSignal.timeout(config.metadataTimeoutMs);
  let res: IncomingMessage;
  try {
    res = await request(url, token, addressPolicy(config), method, signal);
  } catch (error) {
    if (error instanceof RefusedDestinationError) throw new MetadataError(error.message);
    // a timeout already took METADATA_TIMEOUT_SECONDS: another try would double a run's worst case
    if (signal.aborted && !(error instanceof MetadataError)) throw timedOut();
    throw error;
  }
  const answer = reply(res, url, signal, timedOut);
  if (answer.status !== 429 && !TRANSIENT_STATUSES.has(answer.status)) return answer;
  answer.discard();
  throw new TryAgain(answer);
}

/**
 * The answer to `url`, under the shared retry policy (lib/net/retry.ts): a 429 is waited out up to three
 * times, and within each wait's turn a network error or a 5xx gets two more tries. When the tries run out,
 * the last 429 or 5xx is the answer (the caller says it with its status); a network error is thrown.
 */
async function getJson(url: URL, token: Secret | undefined, config: Config, method = "GET"): Promise<Reply> {
  const flaky = () => retrying(transientPolicy(config), () => once(url, token, config, method), { classify: transient });
  try {
    return await retrying(RATE_LIMITED, flaky, { classify: rateLimited });
  } catch (error) {
    if (!(error instanceof GaveUpError)) throw error;
    if (error.cause instanceof TryAgain) return error.cause.answer;
    throw new MetadataError(error.lastMessage);
  }
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

/** The answer's JSON as `schema` has it; a shape it does not have is said without quoting the answer. */
async function parsed<T>(answer: Reply, schema: z.ZodType<T>, where: string): Promise<T> {
  const result = schema.safeParse(await answer.json());
  if (!result.success) throw new MetadataError(`${where} answered with JSON of an unexpected shape`);
  return result.data;
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

const HfInfo = z.object({ lastModified: z.string().optional() }).loose();

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
    ...(Number.isSafeInteger(size) && size > 0 && { size_gb: Math.round((size / GIB) * 100) / 100 }),
    ...(sha256 !== undefined && { sha256 }),
  };
  return { fields, summary: `lastModified=${lastModified ?? "?"}, size_gb=${fields.size_gb ?? "?"}${sha256 ? ", sha256" : ""}` };
}

/** The status and who answered it; the reference's own wording for a 404. */
function httpError(answer: Reply, where: string): MetadataError {
  answer.discard();
  return new MetadataError(answer.status === 404 ? "HTTP 404" : `HTTP ${answer.status} from ${where}`);
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
