/**
 * JSON requests to CivitAI's and Hugging Face's APIs, for metadata, identification and models added by URL.
 * Polite to both: a timeout on every request, back-off on 429 as Retry-After asks (the shared policy,
 * lib/net/retry.ts), credentials to their own API host only, and only to addresses the policy allows
 * (lib/net/address-policy.ts), redirects included. An error says the status and the host, never what the
 * server wrote: that text reaches the activity log.
 */
import type { IncomingMessage } from "node:http";
import type { z } from "zod";
import type { Config } from "../config";
import { addressPolicy, RefusedDestinationError, type AddressPolicy } from "../net/address-policy";
import { send } from "../net/request";
import { GaveUpError, retrying, type Retryable, type RetryPolicy } from "../net/retry";
import type { Secret } from "../secret";
import { USER_AGENT } from "../downloads/engine/http";

export class MetadataError extends Error {}

/** The upstream did not answer within METADATA_TIMEOUT_SECONDS. */
export class UpstreamTimeoutError extends MetadataError {}

// A 429 is waited out as its Retry-After asks (a minute at most), else about 2 s, 4 s, 8 s: three more tries.
const RATE_LIMITED: RetryPolicy = { maxAttempts: 1 + 3, baseMs: 2_000, maxWaitMs: 60_000 };
// A reset connection or a 500/502/503/504 is most often gone a second later (a CDN edge, a deploy, a
// keep-alive connection closed just as it was reused): two more tries before the model is marked failed.
const transientPolicy = (config: Config): RetryPolicy => ({ maxAttempts: 1 + 2, baseMs: config.downloadRetryBaseMs });
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const MAX_REDIRECTS = 10;
// Model info of a repo with many files runs to a few MB; more is not an answer we want.
const MAX_JSON_BYTES = 32 * 1024 * 1024;

/** An answer: its status and headers, its body read (as JSON) only when asked, else discarded. */
export interface Reply {
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
async function request(url: URL, token: Secret | undefined, policy: AddressPolicy, method: string, signal: AbortSignal, body?: Buffer): Promise<IncomingMessage> {
  let at = url;
  for (let hops = 0; ; hops++) {
    const headers = {
      "user-agent": USER_AGENT,
      accept: "application/json",
      ...(body !== undefined && { "content-type": "application/json" }),
      ...(token && at.origin === url.origin && { authorization: `Bearer ${token.reveal()}` }),
    };
    const res = await send(at, { method, headers, signal, policy, body });
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    // a HEAD's redirect is its answer (Hugging Face's size and SHA256); a POST is not sent again elsewhere
    if (method !== "GET" || status < 300 || status >= 400 || location === undefined) return res;
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

const timedOutAfter = (config: Config) => () => new UpstreamTimeoutError(`timed out after ${config.metadataTimeoutMs / 1000} s`);

/** One try: its answer, or TryAgain for a 429 or a 5xx (their bodies discarded), or the failure as it came. */
async function once(url: URL, token: Secret | undefined, config: Config, method: string, body?: Buffer, deadline?: AbortSignal): Promise<Reply> {
  const timedOut = timedOutAfter(config);
  // each try has the whole timeout, for the answer and its body, within the caller's deadline if it set one
  const own = AbortSignal.timeout(config.metadataTimeoutMs);
  const signal = deadline ? AbortSignal.any([own, deadline]) : own;
  let res: IncomingMessage;
  try {
    res = await request(url, token, addressPolicy(config), method, signal, body);
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
 * `deadline` bounds all of it, waits included: when it fires, the request ends with UpstreamTimeoutError.
 */
export async function getJson(url: URL, token: Secret | undefined, config: Config, method = "GET", json?: unknown, deadline?: AbortSignal): Promise<Reply> {
  const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
  const stop = deadline && { signal: deadline, cancelled: timedOutAfter(config) };
  const flaky = () => retrying(transientPolicy(config), () => once(url, token, config, method, body, deadline), { classify: transient, ...stop });
  try {
    return await retrying(RATE_LIMITED, flaky, { classify: rateLimited, ...stop });
  } catch (error) {
    if (!(error instanceof GaveUpError)) throw error;
    if (error.cause instanceof TryAgain) return error.cause.answer;
    throw new MetadataError(error.lastMessage);
  }
}

/** The answer's JSON as `schema` has it; a shape it does not have is said without quoting the answer. */
export async function parsed<T>(answer: Reply, schema: z.ZodType<T>, where: string): Promise<T> {
  const result = schema.safeParse(await answer.json());
  if (!result.success) throw new MetadataError(`${where} answered with JSON of an unexpected shape`);
  return result.data;
}

/** The status and who answered it; the reference's own wording for a 404. */
export function httpError(answer: Reply, where: string): MetadataError {
  answer.discard();
  return new MetadataError(answer.status === 404 ? "HTTP 404" : `HTTP ${answer.status} from ${where}`);
}

