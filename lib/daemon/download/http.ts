import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { DownloadError } from "./errors";
import type { Secret } from "../../secret";
import type { Source } from "./source";

export const USER_AGENT = "comfyui-models-admin/0.1 (+https://github.com/comfyanonymous/ComfyUI; node)";
const MAX_REDIRECTS = 10;
const HEADERS_TIMEOUT_MS = 30_000;

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 64 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

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

// Kept-alive connections the server may have closed meanwhile that one request tries before a new one.
const REUSED_TRIES = 4;

function get(url: URL, headers: Record<string, string>, signal: AbortSignal, reusedTries = REUSED_TRIES): Promise<IncomingMessage> {
  const client = url.protocol === "https:" ? https : http;
  const agent = url.protocol === "https:" ? agents["https:"] : agents["http:"];
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = client.get(url, { headers, signal, agent }, resolve);
    req.setTimeout(HEADERS_TIMEOUT_MS, () =>
      req.destroy(new DownloadError(`No answer from ${url.host} within ${HEADERS_TIMEOUT_MS / 1000} s`, { retryable: true })),
    );
    req.once("response", () => {
      answered = true;
      req.setTimeout(0);
    });
    req.once("error", (error: NodeJS.ErrnoException) => {
      // An idle kept-alive connection that the server closed just as it was reused: the server never saw
      // the request. Sent again at once, as Node's docs advise, rather than after a retry's back-off.
      const closedIdle = req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE");
      if (closedIdle && !answered && !signal.aborted && reusedTries > 1) resolve(get(url, headers, signal, reusedTries - 1));
      else reject(error);
    });
  });
}

async function snippet(res: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of res) {
    if (text.length < 2048) text += String(chunk);
  }
  return text.slice(0, 300).replace(/\s+/g, " ").trim();
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
    const headers: Record<string, string> = {
      "user-agent": USER_AGENT,
      "accept-encoding": "identity",
      ...(atSource ? revealed(source.authHeaders) : {}),
    };
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
    if (options.range && options.ifRange) headers["if-range"] = options.ifRange;
    const res = await get(url, headers, options.signal);
    const size = Number(res.headers["x-linked-size"]);
    if (Number.isSafeInteger(size) && size > 0) linkedSize = size;
    const etag = /^"?([0-9a-f]{64})"?$/i.exec(String(res.headers["x-linked-etag"] ?? ""))?.[1];
    if (etag) linkedSha256 = etag.toLowerCase();

    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new DownloadError(`Too many redirects from ${source.label}`);
      url = new URL(res.headers.location, url);
      continue;
    }
    if (status === 200 || status === 206) {
      return { res, url, ...(linkedSize !== undefined && { linkedSize }), ...(linkedSha256 !== undefined && { linkedSha256 }) };
    }
    const body = await snippet(res).catch(() => "");
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
      throw new DownloadError(`HTTP ${status} from ${where}${body ? `: ${body.slice(0, 120)}` : ""}`, { retryable: true });
    }
    throw new DownloadError(`Unexpected HTTP ${status} from ${where}${body ? `: ${body.slice(0, 120)}` : ""}`);
  }
}
