import type { IncomingMessage } from "node:http";
import { RefusedDestinationError } from "../../net/address-policy";
import { NoAnswerError, send } from "../../net/request";
import { DownloadError } from "./errors";
import { rawGet, type RawResponse } from "./raw-http";
import type { Secret } from "../../secret";
import type { Source } from "./source";

export const USER_AGENT = "comfyui-models-admin/0.1 (+https://github.com/comfyanonymous/ComfyUI; node)";
const MAX_REDIRECTS = 10;
const HEADERS_TIMEOUT_MS = 30_000;

export interface OpenOptions {
  /** First and last byte wanted (inclusive); no range asks for the whole file. */
  readonly range?: { start: number; end?: number };
  /** An ETag or Last-Modified: a server whose file changed answers 200 with all of it instead of 206. */
  readonly ifRange?: string;
  /** A URL a previous request was redirected to (a signed storage URL), to skip the redirect. */
  readonly via?: URL;
  readonly signal: AbortSignal;
}

export interface Opened {
  readonly res: IncomingMessage;
  readonly url: URL;
  /** What Hugging Face says of an LFS file on its redirect: the real size and SHA256. */
  readonly linkedSize?: number;
  readonly linkedSha256?: string;
}

/** One request, to an address the source's policy allows; a refused address ends the download at once. */
async function get(url: URL, headers: Record<string, string>, source: Source, signal: AbortSignal): Promise<IncomingMessage> {
  try {
    return await send(url, { headers, signal, policy: source.policy, headersTimeoutMs: HEADERS_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof RefusedDestinationError) throw new DownloadError(error.message, { cause: error });
    if (error instanceof NoAnswerError) throw new DownloadError(error.message, { retryable: true, cause: error });
    throw error;
  }
}

const retryAfterMs = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
};

/** What a refusal means for this source, in words a person can act on. */
function refusal(status: number, source: Source, hasCivitaiKey: boolean): DownloadError {
  if (source.kind === "civitai") {
    if (status === 401 && !hasCivitaiKey) {
      return new DownloadError("CivitAI needs a login to download this model: set CIVITAI_API_KEY (an API key from your CivitAI account settings)");
    }
    if (status === 401) return new DownloadError("CivitAI refused CIVITAI_API_KEY (HTTP 401): check that the key is valid");
    return new DownloadError(
      `CivitAI refused the download (HTTP 403): the version may be in early access${hasCivitaiKey ? "" : ", or need CIVITAI_API_KEY"}`,
    );
  }
  if (source.kind === "huggingface") {
    return new DownloadError(
      `Hugging Face refused the download (HTTP ${status}): the repo is gated or private: set HF_TOKEN and accept the licence at ${source.page}`,
    );
  }
  return new DownloadError(`HTTP ${status} from ${source.label}: the server wants credentials`);
}

/** A request's headers: the source's credentials only for the source's own origin. */
function requestHeaders(source: Source, url: URL, options: Pick<OpenOptions, "range" | "ifRange">): Record<string, string> {
  const headers: Record<string, string> = {
    "user-agent": USER_AGENT,
    "accept-encoding": "identity",
    ...(url.origin === source.url.origin ? revealed(source.authHeaders) : {}),
  };
  if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
  if (options.range && options.ifRange) headers["if-range"] = options.ifRange;
  return headers;
}

/**
 * The bytes of `url` from `start` on, read in place (raw-http.ts), when the answer is the plain 206 of that
 * range; undefined for any other answer (a redirect, a refusal, another range, a chunked or encoded body),
 * which openDownload then asks for again and reads as it reads any answer.
 */
export async function openRawRange(source: Source, url: URL, start: number, ifRange: string | undefined, signal: AbortSignal): Promise<RawResponse | undefined> {
  const headers = requestHeaders(source, url, { range: { start }, ...(ifRange !== undefined && { ifRange }) });
  let res: RawResponse;
  try {
    res = await rawGet(url, { headers, policy: source.policy, signal, headersTimeoutMs: HEADERS_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof RefusedDestinationError) throw new DownloadError(error.message, { cause: error });
    if (error instanceof NoAnswerError) throw new DownloadError(error.message, { retryable: true, cause: error });
    throw error;
  }
  const { statusCode, headers: got } = res;
  const plain = got["transfer-encoding"] === undefined && (got["content-encoding"] ?? "identity") === "identity";
  if (statusCode === 206 && plain && /^bytes (\d+)-/.exec(got["content-range"] ?? "")?.[1] === String(start)) return res;
  res.destroy();
  return undefined;
}

function redirectTarget(location: string, from: URL): URL {
  try {
    return new URL(location, from);
  } catch {
    throw new DownloadError(`${from.host} redirected to something that is not a URL`);
  }
}

const revealed = (secrets: Readonly<Record<string, Secret>>): Record<string, string> =>
  Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [name, secret.reveal()]));

function withQuery(url: URL, query: Readonly<Record<string, Secret>>): URL {
  const out = new URL(url);
  for (const [name, secret] of Object.entries(query)) out.searchParams.set(name, secret.reveal());
  return out;
}

/**
 * Opens a download: follows redirects by hand so that credentials only ever go to the source's own
 * host, and turns every refusal into a DownloadError that says what to do.
 */
export async function openDownload(source: Source, options: OpenOptions, hasCivitaiKey: boolean): Promise<Opened> {
  let url = options.via ?? withQuery(source.url, source.authQuery);
  let linkedSize: number | undefined;
  let linkedSha256: string | undefined;
  for (let hops = 0; ; hops++) {
    const atSource = url.origin === source.url.origin;
    const res = await get(url, requestHeaders(source, url, options), source, options.signal);
    const size = Number(res.headers["x-linked-size"]);
    if (Number.isSafeInteger(size) && size > 0) linkedSize = size;
    const etag = /^"?([0-9a-f]{64})"?$/i.exec(String(res.headers["x-linked-etag"] ?? ""))?.[1];
    if (etag) linkedSha256 = etag.toLowerCase();

    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new DownloadError(`Too many redirects from ${source.label}`);
      url = redirectTarget(res.headers.location, url);
      continue;
    }
    if (status === 200 || status === 206) {
      return { res, url, ...(linkedSize !== undefined && { linkedSize }), ...(linkedSha256 !== undefined && { linkedSha256 }) };
    }
    // The body is never read, let alone put in a message: it is whatever the server chose to say (an
    // internal page, a secret), and the message goes to the status file, the listing and the log.
    res.destroy();
    const where = atSource ? source.label : `${url.origin}${url.pathname}`;
    if ((status === 401 || status === 403) && atSource) throw refusal(status, source, hasCivitaiKey);
    // a signed storage URL that has expired, or was never ours: go back to the source for a new one
    if (status === 401 || status === 403 || (options.via !== undefined && (status === 404 || status === 410))) {
      throw new DownloadError(`The download link from ${source.label} expired (HTTP ${status})`, { retryable: true, reResolve: true });
    }
    if (status === 404 || status === 410) throw new DownloadError(`Not found upstream (HTTP ${status}): ${where}`);
    if (status === 416) throw new DownloadError(`The server refused the byte range (HTTP 416): ${where}`, { retryable: true, restart: true });
    if (status === 429) {
      const wait = retryAfterMs(res.headers["retry-after"]);
      throw new DownloadError(`Rate limited by ${url.host} (HTTP 429)`, { retryable: true, ...(wait !== undefined && { retryAfterMs: wait }) });
    }
    if (status === 408 || status >= 500) {
      throw new DownloadError(`HTTP ${status} from ${where}: the server failed; try again later`, { retryable: true });
    }
    throw new DownloadError(`Unexpected HTTP ${status} from ${where}: check that the catalog's source is a download link`);
  }
}
