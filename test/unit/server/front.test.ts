/**
 * The front door: how it names routes, what it answers to requests it cannot hand on, clients that hang up,
 * and its connections to serverless-offline. The key at the door: front-key.test.ts; bodies and headers on
 * their way in: front-incoming.test.ts.
 */
import http from "node:http";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { routeKey } from "../../../lib/server/front";
import { KEY, useFront } from "./front-harness";

const { door, raw, request } = useFront();

describe("routeKey", () => {
  it.each([
    ["GET", "/api/admin/models/status", "GET /api/admin/models/status"],
    ["get", "/api/admin/models/status/", "GET /api/admin/models/status"],
    ["GET", "/api/admin/models/status/.", "GET /api/admin/models/status"],
    ["GET", "/api/admin/models/x/../status?max_seconds=1", "GET /api/admin/models/status"],
    ["GET", "/api/admin/models/%73tatus", "GET /api/admin/models/status"],
    ["GET", "/api/admin/models/%2e/status", "GET /api/admin/models/status"],
    ["GET", "http://elsewhere/api/admin/models/status", "GET /api/admin/models/status"],
    ["GET", "/api/admin/models/status%2f", "GET /api/admin/models/status%2f"],
    ["DELETE", "/api/admin/models/a%20b", "DELETE /api/admin/models/a%20b"],
  ])("names %s %s as hapi matches it", (method, url, key) => {
    expect(routeKey(method, url)).toBe(key);
  });

  it("never throws, whatever the target", () => {
    for (const url of ["//%F3%8A%B4%BB/q", "*", "http://%zz/", "//", "", "%", "http://[::1"]) {
      expect(() => routeKey("GET", url)).not.toThrow();
    }
  });
});

describe("the front door", () => {
  it("survives a path that URL takes for an invalid host, and answers it", async () => {
    const reply = await raw(`GET //%F3%8A%B4%BB/q/k HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nConnection: close\r\n\r\n`);
    const after = await raw(`GET /api/admin/models HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nConnection: close\r\n\r\n`);

    expect(reply.status).toBe(200);
    expect(after.status).toBe(200);
  });

  it("serves the streamed route itself under every spelling hapi would also match", async () => {
    for (const target of ["/api/admin/models/status/.", "/api/admin/models/%73tatus", "/api/admin/models/x/../status"]) {
      const reply = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(reply.status, target).toBe(200);
    }
    expect(door.streamedCalls).toHaveLength(3);
  });

  it.each([
    ["an unknown method", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n", 400],
    ["no Host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400],
    ["headers over 16 KB", `GET / HTTP/1.1\r\nHost: x\r\nX-API-Key: ${"k".repeat(20_000)}\r\n\r\n`, 431],
    ["an unknown Expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nContent-Length: 0\r\n\r\n", 417],
    ["CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", 405],
  ])("answers %s with a JSON {detail}", async (_what, bytes, status) => {
    const reply = await raw(bytes);

    expect(reply.status).toBe(status);
    expect(reply.head).toContain("content-type: application/json");
    expect(JSON.parse(reply.body)).toHaveProperty("detail");
  });

  it.each([
    ["an empty body", ""],
    ["text", "Range Not Satisfiable"],
    ["JSON that is not an object", '"nope"'],
  ])("turns serverless-offline's 4xx with %s into a JSON {detail}", async (_what, text) => {
    door.answer = (_req, res) => {
      res.writeHead(416, { "content-type": "text/plain" });
      res.end(text);
    };

    const reply = await request({ method: "GET", path: "/api/admin/models" });

    expect(reply.status).toBe(416);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(reply.body)).toEqual({ detail: "Range Not Satisfiable" });
  });

  it.each([
    ["with a length", false],
    ["chunked", true],
  ])("answers a body over 10 MB sent %s with 413 to a client that reads only once it has sent all, and closes", async (_what, chunked) => {
    const body = Buffer.alloc(11 * 1024 * 1024, 0x20);

    const reply = await request({ method: "POST", path: "/api/admin/models/download-batch", headers: chunked ? {} : { "content-length": body.length } }, body, chunked);

    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({ detail: "Request body is larger than 10 MB" });
    expect(reply.headers.connection).toBe("close");
  });

  it("never leaves a keep-alive client waiting on the connection that was refused a body", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = Buffer.alloc(11 * 1024 * 1024, 0x20);

    const refused = await request({ method: "POST", path: "/api/admin/models/download-batch", agent, headers: { "content-length": body.length } }, body);
    const next = await Promise.race([
      request({ method: "GET", path: "/api/admin/models", agent }),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000)),
    ]);
    agent.destroy();

    expect(refused.status).toBe(413);
    expect(next?.status).toBe(200);
  });
});

describe("clients that hang up before their answer is whole", () => {
  it("leave the front door answering the next request, however many hung up", async () => {
    // the upstream starts a long answer and never ends it, as a 3 MB listing is still on its way
    door.answer = (req, res) => {
      if (req.url !== "/big") return void res.end("{}");
      res.writeHead(200, { "content-type": "application/json" });
      res.write(Buffer.alloc(64 * 1024, 32));
    };
    for (let i = 0; i < 40; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get({ host: "127.0.0.1", port: door.port, path: "/big", agent: false }, (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.on("error", () => undefined);
      });
    }

    const next = await Promise.race([
      request({ path: "/api/admin/activity-log" }),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000)),
    ]);

    expect(next?.status).toBe(200);
  });

  it("refuses a compressed body with 415 and never hands it on (hapi dies of one that does not inflate)", async () => {
    let forwarded = 0;
    door.answer = (_req, res) => {
      forwarded += 1;
      res.end("{}");
    };

    const reply = await request({ method: "POST", path: "/api/admin/models/download-batch", headers: { "content-encoding": "gzip" } }, Buffer.from("junk"));
    const bodiless = await request({ method: "GET", path: "/api/admin/models", headers: { "content-encoding": "gzip" } });

    expect(reply.status).toBe(415);
    expect(JSON.parse(reply.body)).toEqual({ detail: "Content-Encoding 'gzip' is not supported: send the body uncompressed" });
    expect(bodiless.status).toBe(200);
    expect(forwarded).toBe(1);
  });
});

describe("the connections to serverless-offline", () => {
  it("tells the client its own keep-alive time, not that of the upstream connection", async () => {
    door.answer = (_req, res) => {
      res.setHeader("keep-alive", "timeout=5");
      res.end("{}");
    };

    const reply = await request({ path: "/api/admin/models", agent: new http.Agent({ keepAlive: true }) });

    expect(reply.headers["keep-alive"]).toBe("timeout=65");
  });

  it("never sends a request on a connection that sat idle, which hapi may be closing at that moment", async () => {
    // hapi drops a connection idle for 6 s; a request written onto it just then is reset. This stand-in
    // resets every connection at its first request after an idle pause, so it fails any such reuse.
    const answeredAt = new WeakMap<net.Socket, number>();
    door.upstream.on("connection", (socket: net.Socket) =>
      socket.prependListener("data", () => {
        const at = answeredAt.get(socket);
        if (at !== undefined && Date.now() - at > 50) socket.destroy();
      }),
    );
    door.answer = (req, res) => res.end("{}", () => answeredAt.set(req.socket, Date.now()));

    const replies = [];
    for (let i = 0; i < 3; i++) {
      replies.push(await request({ path: "/api/admin/models" }));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }

    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200]);
  });

  it("keeps at most 16 requests in flight upstream and answers all of a burst of 60", async () => {
    let inFlight = 0;
    let most = 0;
    door.answer = (_req, res) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      // long enough that 16 are in flight together however slowly a loaded machine sends the 60
      setTimeout(() => {
        inFlight -= 1;
        res.end("{}");
      }, 250);
    };

    const replies = await Promise.all(Array.from({ length: 60 }, () => request({ path: "/api/admin/models" })));

    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    expect(most).toBe(16);
  });

  it("hands on no hop-by-hop header of the client's connection", async () => {
    let seen: http.IncomingHttpHeaders = {};
    door.answer = (req, res) => {
      seen = req.headers;
      res.end("{}");
    };

    await request({ path: "/api/admin/models", headers: { connection: "keep-alive, x-hop", "keep-alive": "timeout=60", "x-hop": "1", te: "trailers", "x-api-key": KEY } });

    expect(seen["keep-alive"]).toBeUndefined();
    expect(seen["x-hop"]).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen["x-api-key"]).toBe(KEY);
  });
});
