// The plain file host: whole files, ranges, HEAD and 404, with the headers a web server sends; and the
// fault modes it shares with the CDN and signed storage.
import { describe, expect, it } from "vitest";
import { alteredSeed, fileBytes, fileSha256 } from "../../../support/upstream";
import { MiB, raw, sha256, useUpstream } from "./harness";

const stand = useUpstream();

describe("plain file host", () => {
  it("serves the full bytes with the registered sha256 and the standard headers", async () => {
    const reg = await stand.client.register({ id: "plain/model.safetensors", size: 3 * MiB + 123, seed: 5 });
    expect(reg).toEqual({ id: "plain/model.safetensors", size: 3 * MiB + 123, sha256: fileSha256(reg.id, reg.size, 5) });

    const res = await fetch(stand.client.fileUrl(reg.id));
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
    const { id, size } = await stand.client.register({ id: "plain/r.bin", size: 1_000_000, etag: '"custom-1"' });

    const mid = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=70000-199999" } });
    expect(mid.status).toBe(206);
    expect(mid.headers["content-range"]).toBe(`bytes 70000-199999/${size}`);
    expect(mid.headers.etag).toBe('"custom-1"');
    expect(mid.body.equals(fileBytes(id, 0, 70_000, 200_000))).toBe(true);

    const open = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=999000-" } });
    expect(open.status).toBe(206);
    expect(open.headers["content-range"]).toBe(`bytes 999000-999999/${size}`);
    expect(open.body.equals(fileBytes(id, 0, 999_000, size))).toBe(true);

    const suffix = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=-10" } });
    expect(suffix.headers["content-range"]).toBe(`bytes 999990-999999/${size}`);

    const past = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=1000000-" } });
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${size}`);

    const head = await raw(stand.client.fileUrl(id), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(size));
    expect(head.body.length).toBe(0);

    expect(await raw(`${stand.up.url}/files/nope`).then((r) => r.status)).toBe(404);
  });
});

describe("fault modes", () => {
  it("no-range ignores Range and sends no Accept-Ranges", async () => {
    const { id, size } = await stand.client.register({ id: "f/no-range", size: 100_000, mode: "no-range" });
    const res = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=10-19" } });
    expect(res.status).toBe(200);
    expect(res.headers["accept-ranges"]).toBeUndefined();
    expect(res.body.equals(fileBytes(id, 0, 0, size))).toBe(true);
  });

  it("drop-half cuts the first GET about halfway, then serves normally", async () => {
    const { id, size } = await stand.client.register({ id: "f/drop", size: 4 * MiB, mode: "drop-half" });
    const first = await raw(stand.client.fileUrl(id));
    expect(first.status).toBe(200);
    expect(first.headers["content-length"]).toBe(String(size));
    expect(first.error).not.toBeNull();
    expect(first.body.length).toBeLessThan(size);
    expect(first.body.length).toBeGreaterThan(size / 4);
    expect(first.body.equals(fileBytes(id, 0, 0, first.body.length))).toBe(true);

    const resumed = await raw(stand.client.fileUrl(id), { headers: { Range: `bytes=${first.body.length}-` } });
    expect(resumed.status).toBe(206);
    expect(resumed.error).toBeNull();
    expect(sha256(Buffer.concat([first.body, resumed.body]))).toBe(fileSha256(id, size, 0));

    const stats = await stand.client.stats(id);
    expect(stats.gets).toBe(2);
    expect(stats.bytesSent).toBe(size);
    const log = await stand.client.log();
    expect(log.map((e) => [e.status, e.aborted, e.bytesSent])).toEqual([
      [200, true, first.body.length],
      [206, false, size - first.body.length],
    ]);
  });

  it("rate-429 answers 429 with Retry-After once; flaky-500 twice; status-<code> always", async () => {
    await stand.client.register({ id: "f/429", size: 1000, mode: "rate-429" });
    const a = await fetch(stand.client.fileUrl("f/429"));
    expect(a.status).toBe(429);
    expect(a.headers.get("retry-after")).toBe("1");
    await a.text();
    expect((await fetch(stand.client.fileUrl("f/429"))).status).toBe(200);

    await stand.client.register({ id: "f/500", size: 1000, mode: "flaky-500" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await raw(stand.client.fileUrl("f/500"))).status);
    expect(statuses).toEqual([500, 500, 200]);

    await stand.client.register({ id: "f/503", size: 1000, mode: "status-503" });
    expect((await raw(stand.client.fileUrl("f/503"))).status).toBe(503);
    expect((await raw(stand.client.fileUrl("f/503"))).status).toBe(503);
  });

  it("html serves a login page; wrong-bytes serves content that does not match the sha", async () => {
    await stand.client.register({ id: "f/html", size: 5000, mode: "html" });
    const page = await fetch(stand.client.fileUrl("f/html"));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/^<!DOCTYPE html><html><head><title>Sign in<\/title>/);

    const reg = await stand.client.register({ id: "org/repo/wrong.bin", size: 100_000, mode: "wrong-bytes" });
    const resolved = await fetch(stand.client.hfUrl(reg.id), { redirect: "manual" });
    expect(resolved.headers.get("x-linked-etag")).toBe(`"${reg.sha256}"`);
    const body = Buffer.from(await (await fetch(resolved.headers.get("location") ?? "")).arrayBuffer());
    expect(body.length).toBe(reg.size);
    expect(sha256(body)).not.toBe(reg.sha256);
    expect(body.equals(fileBytes(reg.id, alteredSeed(0), 0, reg.size))).toBe(true);
  });

  it("change-etag-after-first changes ETag and content; a stale If-Range gets the full new body", async () => {
    const { id, size } = await stand.client.register({ id: "f/change", size: 500_000, mode: "change-etag-after-first" });
    const first = await raw(stand.client.fileUrl(id));
    expect(first.error).not.toBeNull();
    const oldEtag = first.headers.etag ?? "";

    const resumed = await raw(stand.client.fileUrl(id), { headers: { Range: `bytes=${first.body.length}-`, "If-Range": oldEtag } });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.etag).not.toBe(oldEtag);
    expect(resumed.headers["last-modified"]).not.toBe(first.headers["last-modified"]);
    expect(resumed.body.equals(fileBytes(id, alteredSeed(0), 0, size))).toBe(true);

    const matching = await raw(stand.client.fileUrl(id), { headers: { Range: "bytes=0-9", "If-Range": resumed.headers.etag ?? "" } });
    expect(matching.status).toBe(206);
  });

  it("stall sends ~1 MiB then nothing until the client gives up", async () => {
    const { id } = await stand.client.register({ id: "f/stall", size: 8 * MiB, mode: "stall" });
    const started = Date.now();
    const first = await raw(stand.client.fileUrl(id), { abortAfterMs: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(first.body.length).toBe(MiB);
    await new Promise((r) => setTimeout(r, 50));
    const [entry] = await stand.client.log();
    expect(entry).toMatchObject({ status: 200, aborted: true, bytesSent: MiB });
    expect((await raw(stand.client.fileUrl(id))).body.length).toBe(8 * MiB);
  });

  it("slow throttles to bytesPerSecond", async () => {
    const { id } = await stand.client.register({ id: "f/slow", size: MiB, mode: "slow", bytesPerSecond: 4 * MiB });
    const started = Date.now();
    const res = await raw(stand.client.fileUrl(id));
    const ms = Date.now() - started;
    expect(res.body.length).toBe(MiB);
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(ms).toBeLessThan(1500);
  });
});
