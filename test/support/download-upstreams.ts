/**
 * Two local servers for the unit tests of openDownload (lib/downloads/engine/http.ts): the source (Hugging Face
 * or CivitAI) and the storage it redirects to, on another origin. Each test sets what they answer and reads
 * what they were sent; `upstreamPair()` starts them for a test file and gives the sources that point at them.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { DownloadError } from "../../lib/downloads/engine/errors";
import { openDownload, type OpenOptions, type Opened } from "../../lib/downloads/engine/http";
import { Secret } from "../../lib/secret";
import type { Source } from "../../lib/downloads/engine/source";
import type { AddressPolicy } from "../../lib/net/address-policy";

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Seen {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

/** A local server standing in for an upstream; each test sets what it answers and reads what it was sent. */
export interface Upstream {
  origin: string;
  handle: Handler;
  seen: Seen[];
  close(): Promise<void>;
}

const refuse: Handler = (_req, res) => res.writeHead(500).end();

/** Starts `upstream`'s server on 127.0.0.1 and fills in its origin and close. */
async function listen(upstream: Upstream): Promise<void> {
  const server = http.createServer((req, res) => {
    upstream.seen.push({ path: req.url ?? "", headers: req.headers });
    upstream.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  upstream.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      // openDownload keeps connections alive; they would hold the server open
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export const TOKEN = "hf_httpUnitTestToken0123456789";
// these upstreams all live on 127.0.0.1: every test but those of the address policy allows private addresses
export const ANY_ADDRESS: AddressPolicy = { allowPrivate: true, trustedOrigins: [] };
const signal = new AbortController().signal;

export interface UpstreamPair {
  readonly source: Upstream;
  readonly storage: Upstream;
  /** A Hugging Face file on the source, with the token in its Authorization header. */
  hfSource(): Source;
  /** A CivitAI version on the source, with `token` in its query when given. */
  civitaiSource(token?: string): Source;
}

/**
 * The source and the storage for the calling test file: started before its tests, answering 500 to anything
 * and with nothing seen at the start of each test, closed after them all.
 */
export function upstreamPair(): UpstreamPair {
  const idle = (): Upstream => ({ origin: "", handle: refuse, seen: [], close: async () => undefined });
  const source = idle();
  const storage = idle();
  beforeAll(async () => {
    await Promise.all([listen(source), listen(storage)]);
  });
  afterAll(async () => {
    await Promise.all([source.close(), storage.close()]);
  });
  beforeEach(() => {
    for (const upstream of [source, storage]) {
      upstream.seen = [];
      upstream.handle = refuse;
    }
  });

  const hfSource = (): Source => {
    const url = new URL(`${source.origin}/org/repo/resolve/main/model.safetensors`);
    return {
      kind: "huggingface",
      key: "hf:org/repo@main/model.safetensors",
      url,
      authHeaders: { authorization: new Secret(`Bearer ${TOKEN}`) },
      authQuery: {},
      label: url.toString(),
      page: `${source.origin}/org/repo`,
      policy: ANY_ADDRESS,
    };
  };
  const civitaiSource = (token?: string): Source => {
    const url = new URL(`${source.origin}/api/download/models/123`);
    const authQuery = token === undefined ? {} : { token: new Secret(token) };
    return { kind: "civitai", key: "civitai:123", url, authHeaders: {}, authQuery, label: url.toString(), policy: ANY_ADDRESS };
  };
  return { source, storage, hfSource, civitaiSource };
}

export const open = (from: Source, options: Partial<OpenOptions> = {}, hasCivitaiKey = false): Promise<Opened> =>
  openDownload(from, { signal, ...options }, hasCivitaiKey);

/** The DownloadError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<DownloadError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DownloadError);
    return error as DownloadError;
  }
  throw new Error("expected a DownloadError");
}

export async function body(opened: Opened): Promise<string> {
  let text = "";
  for await (const chunk of opened.res) text += String(chunk);
  return text;
}

export const redirectTo = (location: string, headers: Record<string, string> = {}): Handler => (_req, res) =>
  res.writeHead(302, { location, ...headers }).end();
export const answer = (status: number, text = "", headers: Record<string, string> = {}): Handler => (_req, res) =>
  res.writeHead(status, { "content-type": "text/plain", ...headers }).end(text);
