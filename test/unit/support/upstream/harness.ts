/**
 * What the stand-in's unit tests share: sizes and hashes, and a raw request that follows no redirect and
 * keeps whatever body arrived, even when the socket is cut.
 */
import { createHash } from "node:crypto";
import { request, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startUpstream, upstreamClient, type Upstream, type UpstreamClient } from "../../../support/upstream";

export const MiB = 1024 * 1024;

export interface Stand {
  readonly up: Upstream;
  readonly client: UpstreamClient;
}

/** The file's own stand-in: started once, its files and tokens reset before each test, closed at the end. */
export function useUpstream(): Stand {
  const stand = {} as { up: Upstream; client: UpstreamClient };
  beforeAll(async () => {
    stand.up = await startUpstream();
    stand.client = upstreamClient(stand.up.url);
  });
  afterAll(async () => {
    await stand.up?.close();
  });
  beforeEach(async () => {
    await stand.client.reset();
  });
  return stand;
}
export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** the body ended early (socket cut) */
  error: Error | null;
}

/** One request with node:http (no redirect following); keeps whatever body arrived even if the socket is cut. */
export function raw(url: string, opts: { method?: string; headers?: Record<string, string>; abortAfterMs?: number } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let settled = false;
      const finish = (error: Error | null) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), error });
      };
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => finish(null));
      res.on("error", (e) => finish(e));
      res.on("close", () => finish(res.complete ? null : new Error("incomplete body")));
      if (opts.abortAfterMs !== undefined) setTimeout(() => req.destroy(), opts.abortAfterMs);
    });
    req.on("error", reject);
    req.end();
  });
}
