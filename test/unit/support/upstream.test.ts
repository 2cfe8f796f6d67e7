import { createHash } from "node:crypto";
import { request, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  alteredSeed,
  fileBytes,
  fileSha256,
  startUpstream,
  upstreamClient,
  type Upstream,
  type UpstreamClient,
} from "../../support/upstream";

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** the body ended early (socket cut) */
  error: Error | null;
}

/** One request with node:http (no redirect following); keeps whatever body arrived even if the socket is cut. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; abortAfterMs?: number } = {}): Promise<Raw> {
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

let up: Upstream;
let client: UpstreamClient;

beforeAll(async () => {
  up = await startUpstream();
  client = upstreamClient(up.url);
});

afterAll(async () => {
  await up?.close();
});

beforeEach(async () => {
  await client.reset();
});

describe("deterministic content", () => {
  it("is addressable by offset, seed-dependent, and hashes like fileSha256", () => {
    const whole = fileBytes("a/b.bin", 7, 0, 200_000);
    expect(whole.length).toBe(200_000);
    expect(fileBytes("a/b.bin", 7, 65_530, 131_080)).toEqual(whole.subarray(65_530, 131_080));
    expect(fileBytes("a/b.bin", 8, 0, 1000)).not.toEqual(whole.subarray(0, 1000));
    expect(fileBytes("a/c.bin", 7, 0, 1000)).not.toEqual(whole.subarray(0, 1000));
    expect(fileSha256("a/b.bin", 200_000, 7)).toBe(sha256(whole));
  });
});

describe("plain file host", () => {
  it("serves the full bytes with the registered sha256 and the standard headers", async () => {
    const reg = await client.register({ id: "plain/model.safetensors", size: 3 * MiB + 123, seed: 5 });
    expect(reg).toEqual({ id: "plain/model.safetensors", size: 3 * MiB + 123, sha256: fileSha256(reg.id, reg.size, 5) });

    const res = await fetch(client.fileUrl(reg.id));
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe(String(reg.size));
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("etag")).toBe(`"${reg.sha256.slice(0, 16)}"`);
    expect(res.headers.get("last-modified")).toMatch(/GMT$/);
    expect(body.equals(fileBytes(reg.id, 5, 0, reg.size))).toBe(true);
    expect(sha256(body)).toBe(reg.sha256);
  });

  it("answers ranges with 206 and Content-Range, and 416 past the end", async () => {
    const { id, size } = await client.register({ id: "plain/r.bin", size: 1_000_000, etag: '"custom-1"' });

    const mid = await raw(client.fileUrl(id), { headers: { Range: "bytes=70000-199999" } });
    expect(mid.status).toBe(206);
    expect(mid.headers["content-range"]).toBe(`bytes 70000-199999/${size}`);
    expect(mid.headers.etag).toBe('"custom-1"');
    expect(mid.body.equals(fileBytes(id, 0, 70_000, 200_000))).toBe(true);

    const open = await raw(client.fileUrl(id), { headers: { Range: "bytes=999000-" } });
    expect(open.status).toBe(206);
    expect(open.headers["content-range"]).toBe(`bytes 999000-999999/${size}`);
    expect(open.body.equals(fileBytes(id, 0, 999_000, size))).toBe(true);

    const suffix = await raw(client.fileUrl(id), { headers: { Range: "bytes=-10" } });
    expect(suffix.headers["content-range"]).toBe(`bytes 999990-999999/${size}`);

    const past = await raw(client.fileUrl(id), { headers: { Range: "bytes=1000000-" } });
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${size}`);

    const head = await raw(client.fileUrl(id), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(size));
    expect(head.body.length).toBe(0);

    expect(await raw(`${up.url}/files/nope`).then((r) => r.status)).toBe(404);
  });
});

describe("Hugging Face", () => {
  it("resolve answers 302 to the CDN on the other host name with the linked size and etag", async () => {
    const reg = await client.register({ id: "acme/sdxl/unet/model.safetensors", size: 300_000 });
    const resolveUrl = client.hfUrl(reg.id);
    expect(resolveUrl).toBe(`${up.url}/acme/sdxl/resolve/main/unet/model.safetensors`);

    for (const method of ["GET", "HEAD"]) {
      const res = await fetch(resolveUrl, { method, redirect: "manual" });
      expect(res.status).toBe(302);
      expect(res.headers.get("x-linked-size")).toBe("300000");
      expect(res.headers.get("x-linked-etag")).toBe(`"${reg.sha256}"`);
      expect(res.headers.get("etag")).toBe(`"${reg.sha256}"`);
      expect(res.headers.get("location")).toMatch(new RegExp(`^${up.altUrl}/cdn/acme/sdxl/unet/model\\.safetensors\\?sig=`));
    }

    const followed = await fetch(resolveUrl);
    expect(followed.status).toBe(200);
    expect(sha256(Buffer.from(await followed.arrayBuffer()))).toBe(reg.sha256);

    const info = (await (await fetch(`${up.url}/api/models/acme/sdxl`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ id: "acme/sdxl", modelId: "acme/sdxl", author: "acme", private: false, gated: false });
    expect(info.siblings).toEqual([{ rfilename: "unet/model.safetensors" }]);
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it("gated files need the registered bearer token", async () => {
    const { id, sha256: sum } = await client.register({ id: "meta/gated/w.bin", size: 1000, mode: "gated" });
    const denied = await fetch(client.hfUrl(id), { redirect: "manual" });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: string }).error).toBe(
      "Access to model meta/gated is restricted. You must have access to it and be authenticated to access it. Please log in.",
    );

    await client.setTokens({ hf: "hf_good" });
    const wrong = await fetch(client.hfUrl(id), { redirect: "manual", headers: { Authorization: "Bearer hf_bad" } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(client.hfUrl(id), { redirect: "manual", headers: { Authorization: "Bearer hf_good" } });
    expect(ok.status).toBe(302);
    const cdn = await fetch(ok.headers.get("location") ?? "");
    expect(sha256(Buffer.from(await cdn.arrayBuffer()))).toBe(sum);

    const info = (await (await fetch(`${up.url}/api/models/meta/gated`)).json()) as Record<string, unknown>;
    expect(info.gated).toBe("auto");
  });
});

describe("CivitAI", () => {
  it("download answers 307 to a signed URL that serves the bytes until it expires", async () => {
    const reg = await client.register({ id: "civitai/12345", size: 200_000, signedTtlMs: 300, name: "thing.safetensors" });
    const res = await fetch(client.civitaiUrl(12345), { redirect: "manual" });
    expect(res.status).toBe(307);
    const location = res.headers.get("location") ?? "";
    expect(location).toMatch(new RegExp(`^${up.altUrl}/signed/civitai/12345\\?`));
    const q = new URL(location).searchParams;
    expect(q.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(q.get("exp"))).toBeGreaterThan(Date.now());

    const signed = await fetch(location);
    expect(signed.status).toBe(200);
    expect(signed.headers.get("content-disposition")).toBe('attachment; filename="thing.safetensors"');
    expect(sha256(Buffer.from(await signed.arrayBuffer()))).toBe(reg.sha256);

    // S3 refuses a second auth mechanism next to the presigned query
    const withAuth = await fetch(location, { headers: { Authorization: "Bearer x" } });
    expect(withAuth.status).toBe(400);
    await withAuth.text();

    await new Promise((r) => setTimeout(r, 350));
    const expired = await fetch(location);
    expect(expired.status).toBe(403);
    expect(expired.headers.get("content-type")).toBe("application/xml");
    expect(await expired.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    );

    const version = (await (await fetch(`${up.url}/api/v1/model-versions/12345`)).json()) as {
      id: number;
      files: { name: string; primary: boolean; sizeKB: number; hashes: Record<string, string>; downloadUrl: string }[];
    };
    expect(version.id).toBe(12345);
    const file = version.files[0];
    expect(file).toMatchObject({ name: "thing.safetensors", primary: true, sizeKB: 200_000 / 1024 });
    expect(file?.hashes.SHA256).toBe(reg.sha256.toUpperCase());
    expect(file?.hashes.AutoV2).toBe(reg.sha256.toUpperCase().slice(0, 10));
    expect(file?.downloadUrl).toBe(`${up.url}/api/download/models/12345`);
  });

  it("needs-token wants ?token=, early-access is refused regardless", async () => {
    await client.register({ id: "civitai/1", size: 10, mode: "needs-token" });
    await client.register({ id: "civitai/2", size: 10, mode: "early-access" });
    await client.setTokens({ civitai: "civ-tok" });

    const noToken = await fetch(client.civitaiUrl(1), { redirect: "manual" });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({
      error: "Unauthorized",
      message: "The creator of this asset requires you to be logged in to download it",
    });
    expect((await fetch(`${client.civitaiUrl(1)}?token=nope`, { redirect: "manual" })).status).toBe(401);
    expect((await fetch(`${client.civitaiUrl(1)}?token=civ-tok`, { redirect: "manual" })).status).toBe(307);

    const early = await fetch(`${client.civitaiUrl(2)}?token=civ-tok`, { redirect: "manual" });
    expect(early.status).toBe(403);
    expect(((await early.json()) as { message: string }).message).toMatch(/^This resource is in early access/);
  });
});

describe("fault modes", () => {
  it("no-range ignores Range and sends no Accept-Ranges", async () => {
    const { id, size } = await client.register({ id: "f/no-range", size: 100_000, mode: "no-range" });
    const res = await raw(client.fileUrl(id), { headers: { Range: "bytes=10-19" } });
    expect(res.status).toBe(200);
    expect(res.headers["accept-ranges"]).toBeUndefined();
    expect(res.body.equals(fileBytes(id, 0, 0, size))).toBe(true);
  });

  it("drop-half cuts the first GET about halfway, then serves normally", async () => {
    const { id, size } = await client.register({ id: "f/drop", size: 4 * MiB, mode: "drop-half" });
    const first = await raw(client.fileUrl(id));
    expect(first.status).toBe(200);
    expect(first.headers["content-length"]).toBe(String(size));
    expect(first.error).not.toBeNull();
    expect(first.body.length).toBeLessThan(size);
    expect(first.body.length).toBeGreaterThan(size / 4);
    expect(first.body.equals(fileBytes(id, 0, 0, first.body.length))).toBe(true);

    const resumed = await raw(client.fileUrl(id), { headers: { Range: `bytes=${first.body.length}-` } });
    expect(resumed.status).toBe(206);
    expect(resumed.error).toBeNull();
    expect(sha256(Buffer.concat([first.body, resumed.body]))).toBe(fileSha256(id, size, 0));

    const stats = await client.stats(id);
    expect(stats.gets).toBe(2);
    expect(stats.bytesSent).toBe(size);
    const log = await client.log();
    expect(log.map((e) => [e.status, e.aborted, e.bytesSent])).toEqual([
      [200, true, first.body.length],
      [206, false, size - first.body.length],
    ]);
  });

  it("rate-429 answers 429 with Retry-After once; flaky-500 twice; status-<code> always", async () => {
    await client.register({ id: "f/429", size: 1000, mode: "rate-429" });
    const a = await fetch(client.fileUrl("f/429"));
    expect(a.status).toBe(429);
    expect(a.headers.get("retry-after")).toBe("1");
    await a.text();
    expect((await fetch(client.fileUrl("f/429"))).status).toBe(200);

    await client.register({ id: "f/500", size: 1000, mode: "flaky-500" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await raw(client.fileUrl("f/500"))).status);
    expect(statuses).toEqual([500, 500, 200]);

    await client.register({ id: "f/503", size: 1000, mode: "status-503" });
    expect((await raw(client.fileUrl("f/503"))).status).toBe(503);
    expect((await raw(client.fileUrl("f/503"))).status).toBe(503);
  });

  it("html serves a login page; wrong-bytes serves content that does not match the sha", async () => {
    await client.register({ id: "f/html", size: 5000, mode: "html" });
    const page = await fetch(client.fileUrl("f/html"));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/^<!DOCTYPE html><html><head><title>Sign in<\/title>/);

    const reg = await client.register({ id: "org/repo/wrong.bin", size: 100_000, mode: "wrong-bytes" });
    const resolved = await fetch(client.hfUrl(reg.id), { redirect: "manual" });
    expect(resolved.headers.get("x-linked-etag")).toBe(`"${reg.sha256}"`);
    const body = Buffer.from(await (await fetch(resolved.headers.get("location") ?? "")).arrayBuffer());
    expect(body.length).toBe(reg.size);
    expect(sha256(body)).not.toBe(reg.sha256);
    expect(body.equals(fileBytes(reg.id, alteredSeed(0), 0, reg.size))).toBe(true);
  });

  it("change-etag-after-first changes ETag and content; a stale If-Range gets the full new body", async () => {
    const { id, size } = await client.register({ id: "f/change", size: 500_000, mode: "change-etag-after-first" });
    const first = await raw(client.fileUrl(id));
    expect(first.error).not.toBeNull();
    const oldEtag = first.headers.etag ?? "";

    const resumed = await raw(client.fileUrl(id), { headers: { Range: `bytes=${first.body.length}-`, "If-Range": oldEtag } });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.etag).not.toBe(oldEtag);
    expect(resumed.headers["last-modified"]).not.toBe(first.headers["last-modified"]);
    expect(resumed.body.equals(fileBytes(id, alteredSeed(0), 0, size))).toBe(true);

    const matching = await raw(client.fileUrl(id), { headers: { Range: "bytes=0-9", "If-Range": resumed.headers.etag ?? "" } });
    expect(matching.status).toBe(206);
  });

  it("stall sends ~1 MiB then nothing until the client gives up", async () => {
    const { id } = await client.register({ id: "f/stall", size: 8 * MiB, mode: "stall" });
    const started = Date.now();
    const first = await raw(client.fileUrl(id), { abortAfterMs: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(first.body.length).toBe(MiB);
    await new Promise((r) => setTimeout(r, 50));
    const [entry] = await client.log();
    expect(entry).toMatchObject({ status: 200, aborted: true, bytesSent: MiB });
    expect((await raw(client.fileUrl(id))).body.length).toBe(8 * MiB);
  });

  it("slow throttles to bytesPerSecond", async () => {
    const { id } = await client.register({ id: "f/slow", size: MiB, mode: "slow", bytesPerSecond: 4 * MiB });
    const started = Date.now();
    const res = await raw(client.fileUrl(id));
    const ms = Date.now() - started;
    expect(res.body.length).toBe(MiB);
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(ms).toBeLessThan(1500);
  });
});

describe("observability", () => {
  it("logs host, authorization, range and user-agent of each request, in order", async () => {
    await client.register({ id: "acme/m/x.bin", size: 1000 });
    await client.setTokens({ hf: "hf_tok" });
    await fetch(client.hfUrl("acme/m/x.bin"), { headers: { Authorization: "Bearer hf_tok", "User-Agent": "engine/1.0" } }).then((r) =>
      r.arrayBuffer(),
    );
    await raw(client.fileUrl("acme/m/x.bin"), { headers: { Range: "bytes=0-9", "If-Range": '"x"' } });

    const log = await client.log();
    expect(log.map((e) => e.route)).toEqual(["hf-resolve", "cdn", "files"]);
    const [resolve, cdn, plain] = log;
    expect(resolve).toMatchObject({
      method: "GET",
      path: "/acme/m/resolve/main/x.bin",
      host: `127.0.0.1:${up.port}`,
      authorization: "Bearer hf_tok",
      userAgent: "engine/1.0",
      status: 302,
      fileId: "acme/m/x.bin",
      finished: true,
    });
    // fetch drops Authorization on a cross-origin redirect, and the CDN is on the other host name
    expect(cdn).toMatchObject({ host: `localhost:${up.port}`, authorization: null, status: 200, bytesSent: 1000 });
    expect(cdn?.path).toMatch(/^\/cdn\/acme\/m\/x\.bin\?sig=/);
    expect(plain).toMatchObject({ range: "bytes=0-9", ifRange: '"x"', status: 200, bytesSent: 1000 });
    expect(log.map((e) => e.seq)).toEqual([...log.map((e) => e.seq)].sort((a, b) => a - b));

    expect(await client.stats("acme/m/x.bin")).toEqual({ requests: 3, gets: 2, bytesSent: 2000 });
    await client.reset();
    expect(await client.log()).toEqual([]);
    await expect(client.stats("acme/m/x.bin")).rejects.toThrow(/404/);
  });
});

describe("large files", () => {
  it("streams 512 MiB with backpressure without growing the process's memory", async () => {
    const size = 512 * MiB;
    const before = process.memoryUsage().rss;
    const reg = await client.register({ id: "big/model.safetensors", size, seed: 3 });
    let peak = process.memoryUsage().rss;
    const hash = createHash("sha256");
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      request(client.fileUrl(reg.id), { agent: false }, (res) => {
        res.on("data", (c: Buffer) => {
          hash.update(c);
          received += c.length;
          if ((received & (32 * MiB - 1)) < c.length) peak = Math.max(peak, process.memoryUsage().rss);
        });
        res.on("end", resolve);
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(received).toBe(size);
    expect(hash.digest("hex")).toBe(reg.sha256);
    expect(peak - before).toBeLessThan(200 * MiB);
  }, 20_000);
});
