import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { USER_AGENT } from "../../../../lib/downloads/engine/http";
import type { Source } from "../../../../lib/downloads/engine/source";
import { ANY_ADDRESS, answer, body, open, redirectTo, rejection, TOKEN, upstreamPair } from "../../../support/download-upstreams";

// openDownload's requests: whose credentials go where across redirects, ranges, and kept-alive connections.
// Its refusals are in http-refusals.test.ts, the addresses it may reach in http-addresses.test.ts.

const SHA = "AB".repeat(32);
const { source, storage, hfSource } = upstreamPair();

describe("openDownload: credentials and redirects", () => {
  it("sends the source's credentials to its own origin and not to the storage it redirects to", async () => {
    source.handle = redirectTo(`${storage.origin}/blob/abc?signature=xyz`);
    storage.handle = answer(200, "model bytes");

    const opened = await open(hfSource());

    expect(await body(opened)).toBe("model bytes");
    expect(opened.url.toString()).toBe(`${storage.origin}/blob/abc?signature=xyz`);
    expect(source.seen[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(storage.seen).toHaveLength(1);
    expect(storage.seen[0]?.path).toBe("/blob/abc?signature=xyz");
    expect(storage.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("keeps the credentials on a redirect within the source's origin", async () => {
    source.handle = (req, res) =>
      req.url === "/moved" ? answer(200, "ok")(req, res) : redirectTo("/moved")(req, res);

    await body(await open(hfSource()));

    expect(source.seen.map((seen) => [seen.path, seen.headers.authorization])).toEqual([
      ["/org/repo/resolve/main/model.safetensors", `Bearer ${TOKEN}`],
      ["/moved", `Bearer ${TOKEN}`],
    ]);
  });

  it("starts at `via` when given, without credentials for its other origin", async () => {
    storage.handle = answer(200, "signed");

    const opened = await open(hfSource(), { via: new URL(`${storage.origin}/signed?x=1`) });

    expect(await body(opened)).toBe("signed");
    expect(source.seen).toHaveLength(0);
    expect(storage.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("returns X-Linked-Size and X-Linked-Etag of the redirect, the SHA256 lowercased", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`, { "x-linked-size": "12345", "x-linked-etag": `"${SHA}"` });
    storage.handle = answer(200, "x");

    const opened = await open(hfSource());
    await body(opened);

    expect(opened.linkedSize).toBe(12345);
    expect(opened.linkedSha256).toBe(SHA.toLowerCase());
  });

  it("returns no linked size or SHA256 when the upstream sends none (or an etag that is no SHA256)", async () => {
    source.handle = answer(200, "x", { "x-linked-etag": '"not-a-sha"' });

    const opened = await open(hfSource());
    await body(opened);

    expect(opened.linkedSize).toBeUndefined();
    expect(opened.linkedSha256).toBeUndefined();
  });

  it("fails after too many redirects", async () => {
    let hop = 0;
    source.handle = (_req, res) => res.writeHead(302, { location: `/loop/${++hop}` }).end();

    const error = await rejection(open(hfSource()));

    expect(error.message).toBe(`Too many redirects from ${hfSource().label}`);
    expect(error.retryable).toBe(false);
    expect(source.seen).toHaveLength(11);
  });

  it("names comfyui-models-admin in the User-Agent of every request", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`);
    storage.handle = answer(200, "x");

    await body(await open(hfSource()));

    expect(USER_AGENT).toMatch(/^comfyui-models-admin\//);
    expect(source.seen[0]?.headers["user-agent"]).toBe(USER_AGENT);
    expect(storage.seen[0]?.headers["user-agent"]).toBe(USER_AGENT);
  });
});

describe("openDownload: ranges", () => {
  it("sends Range bytes=a-b and If-Range when asked, and returns a 206 as it is", async () => {
    storage.handle = answer(206, "0123456789", { "content-range": "bytes 10-19/100" });
    source.handle = redirectTo(`${storage.origin}/blob`);

    const opened = await open(hfSource(), { range: { start: 10, end: 19 }, ifRange: '"v1"' });

    expect(opened.res.statusCode).toBe(206);
    expect(await body(opened)).toBe("0123456789");
    for (const seen of [source.seen[0], storage.seen[0]]) {
      expect(seen?.headers.range).toBe("bytes=10-19");
      expect(seen?.headers["if-range"]).toBe('"v1"');
    }
  });

  it("asks for the rest of the file with an open range", async () => {
    source.handle = answer(206, "tail");

    await body(await open(hfSource(), { range: { start: 5 } }));

    expect(source.seen[0]?.headers.range).toBe("bytes=5-");
    expect(source.seen[0]?.headers["if-range"]).toBeUndefined();
  });

  it("returns a 200 as it is (the caller decides that a range was ignored)", async () => {
    source.handle = answer(200, "whole file");

    const opened = await open(hfSource(), { range: { start: 5 }, ifRange: '"v1"' });

    expect(opened.res.statusCode).toBe(200);
    expect(await body(opened)).toBe("whole file");
  });

  it("sends neither Range nor If-Range without a range", async () => {
    source.handle = answer(200, "x");

    await body(await open(hfSource(), { ifRange: '"v1"' }));

    expect(source.seen[0]?.headers.range).toBeUndefined();
    expect(source.seen[0]?.headers["if-range"]).toBeUndefined();
  });
});

describe("openDownload: kept-alive connections", () => {
  it("sends a request again at once when the server had closed the idle connection it was sent on", async () => {
    // resets every connection at its first request after an idle pause, as a server closing it then does
    const answeredAt = new WeakMap<Socket, number>();
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": "2" }).end("ok", () => answeredAt.set(req.socket, Date.now()));
    });
    server.on("connection", (socket: Socket) =>
      socket.prependListener("data", () => {
        const at = answeredAt.get(socket);
        if (at !== undefined && Date.now() - at > 50) socket.destroy();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/model.safetensors`);
    const plain: Source = { kind: "url", key: `url:${url}`, url, authHeaders: {}, authQuery: {}, label: url.toString(), policy: ANY_ADDRESS };

    try {
      const bodies = [];
      for (let i = 0; i < 3; i++) {
        bodies.push(await body(await open(plain)));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }

      expect(bodies).toEqual(["ok", "ok", "ok"]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
