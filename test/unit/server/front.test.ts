import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bodyDeadline, DOOR_LIMITS, longestRequestMs } from "../../../lib/server/buffered-body";
import { createFront, routeKey, type FrontOptions } from "../../../lib/server/front";
import { Secret } from "../../../lib/secret";

/** The front door in front of a stand-in for serverless-offline (on a Unix socket) that answers what each test sets. */
let upstream: http.Server;
let socketDir: string;
let upstreamSocket: string;
let front: http.Server;
let port: number;
let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
let streamedCalls: string[];
/** What the stand-in received: each request with its whole body. */
let received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }[];

const KEY = "front-door-key-5b1e";

const listen = (server: http.Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));

/** (Re)starts the front door, with options of the test's own. */
async function startFront(options: Partial<FrontOptions> = {}): Promise<void> {
  if (front) {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
  }
  front = createFront({
    upstreamSocket,
    corsOrigins: ["chrome-extension://*"],
    apiKey: new Secret(KEY),
    streamed: {
      "GET /api/admin/models/status": async (req, res) => {
        streamedCalls.push(req.url ?? "");
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end("data: {}\n\n");
      },
    },
    ...options,
  });
  port = await listen(front);
}

beforeEach(async () => {
  answer = (_req, res) => res.end("{}");
  streamedCalls = [];
  received = [];
  // like serverless-offline, it reads the whole body before it answers
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      answer(req, res);
    });
  });
  socketDir = await mkdtemp(path.join(os.tmpdir(), "front-test-"));
  upstreamSocket = path.join(socketDir, "http.sock");
  await new Promise<void>((resolve) => upstream.listen(upstreamSocket, resolve));
  await startFront();
});

afterEach(async () => {
  front.closeAllConnections();
  upstream.closeAllConnections();
  await Promise.all([new Promise((resolve) => front.close(resolve)), new Promise((resolve) => upstream.close(resolve))]);
  await rm(socketDir, { recursive: true, force: true });
});

/** Bytes as they are, on a connection of their own; the whole answer. */
const raw = (bytes: string) =>
  new Promise<{ status: number; head: string; body: string }>((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const end = text.indexOf("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), head: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) });
    });
    setTimeout(() => socket.destroy(), 2_000);
  });

/** A request with the key, unless its headers name another. */
const request = (options: http.RequestOptions, body?: Buffer, chunked = false) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    // a header given as undefined is left out (a request without the key)
    const given = { "x-api-key": KEY, ...(options.headers as http.OutgoingHttpHeaders | undefined) };
    const headers = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
    const req = http.request({ host: "127.0.0.1", port, agent: false, ...options, headers }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    if (body && chunked) {
      for (let offset = 0; offset < body.length; offset += 1024 * 1024) req.write(body.subarray(offset, offset + 1024 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });

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
    expect(streamedCalls).toHaveLength(3);
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
    answer = (_req, res) => {
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
    answer = (req, res) => {
      if (req.url !== "/big") return void res.end("{}");
      res.writeHead(200, { "content-type": "application/json" });
      res.write(Buffer.alloc(64 * 1024, 32));
    };
    for (let i = 0; i < 40; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/big", agent: false }, (res) => {
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
    answer = (_req, res) => {
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
    answer = (_req, res) => {
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
    upstream.on("connection", (socket: net.Socket) =>
      socket.prependListener("data", () => {
        const at = answeredAt.get(socket);
        if (at !== undefined && Date.now() - at > 50) socket.destroy();
      }),
    );
    answer = (req, res) => res.end("{}", () => answeredAt.set(req.socket, Date.now()));

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
    answer = (_req, res) => {
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
    answer = (req, res) => {
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

/** The first bytes of the answer on a raw connection, when they came, and when the connection closed. */
function rawTimed(bytes: string, waitMs = 5_000) {
  const started = Date.now();
  let text = "";
  let firstAt: number | undefined;
  const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
  socket.on("data", (chunk: Buffer) => {
    firstAt ??= Date.now() - started;
    text += chunk.toString("latin1");
  });
  socket.on("error", () => undefined);
  const timer = setTimeout(() => socket.destroy(), waitMs);
  const closed = new Promise<{ text: string; firstMs: number | undefined; closedMs: number }>((resolve) =>
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, firstMs: firstAt, closedMs: Date.now() - started });
    }),
  );
  return { socket, closed, text: () => text };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the key at the door", () => {
  const UNAUTHORIZED = '{"detail":"Invalid or missing API key"}';

  it.each([
    ["no key", {}],
    ["a wrong key", { "x-api-key": "wrong" }],
    ["the key twice", { "x-api-key": [KEY, KEY] }],
    ["an empty key", { "x-api-key": "" }],
  ])("refuses %s with the handler's 401, CORS headers included, and hands nothing on", async (_what, headers) => {
    const replies = [];
    for (const [method, path] of [["GET", "/api/admin/models"], ["DELETE", "/api/admin/models/x.safetensors"], ["POST", "/api/admin/models/download-batch"], ["GET", "/nowhere"]] as const) {
      replies.push(await request({ method, path, headers: { origin: "chrome-extension://abc", "x-api-key": undefined, ...headers } }, method === "POST" ? Buffer.from("{}") : undefined));
    }

    expect(replies.map((reply) => [reply.status, reply.body])).toEqual(replies.map(() => [401, UNAUTHORIZED]));
    for (const reply of replies) {
      expect(reply.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "access-control-allow-origin": "chrome-extension://abc", vary: "Origin" });
    }
    expect(received).toEqual([]);
  });

  it("lets the admin page, a preflight and the streamed route through without a key", async () => {
    const page = await request({ path: "/admin", headers: { "x-api-key": undefined } });
    const head = await request({ method: "HEAD", path: "/admin/", headers: { "x-api-key": undefined } });
    const preflight = await request({ method: "OPTIONS", path: "/api/admin/models", headers: { "x-api-key": undefined, origin: "chrome-extension://abc", "access-control-request-method": "GET" } });
    const stream = await request({ path: "/api/admin/models/status", headers: { "x-api-key": undefined } });

    expect([page.status, head.status, preflight.status, stream.status]).toEqual([200, 200, 204, 200]);
    expect(received.map((req) => `${req.method} ${req.url}`)).toEqual(["GET /admin", "HEAD /admin/"]);
    expect(streamedCalls).toEqual(["/api/admin/models/status"]);
  });

  it("answers a keyless request 401 at once while its body is still coming, and then closes its connection", async () => {
    await startFront({ limits: { lingerMs: 300 } });
    const client = rawTimed("POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{");
    const drip = setInterval(() => client.socket.write(" "), 50);

    const { text, firstMs, closedMs } = await client.closed;
    clearInterval(drip);

    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain("connection: close");
    expect(text.endsWith(UNAUTHORIZED)).toBe(true);
    expect(firstMs).toBeLessThan(250);
    expect(closedMs).toBeLessThan(2_000);
    expect(received).toEqual([]);
  });

  it("never tells a keyless client to send its body (100 Continue), and tells a keyed one", async () => {
    const head = (key: string) =>
      `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`;
    const keyless = rawTimed(head("wrong"));
    const keyed = rawTimed(head(KEY));

    const refused = await keyless.closed;
    await sleep(200);
    const invited = keyed.text();
    keyed.socket.write("{}");
    const answered = await keyed.closed;

    expect(refused.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(invited).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    expect(answered.text).toMatch(/HTTP\/1\.1 200 /);
    expect(received.map((req) => req.body.toString())).toEqual(["{}"]);
    expect(received[0]?.headers.expect).toBeUndefined();
  });
});

describe("bodies on their way in", () => {
  it("gives a body 15 s, pushed back a second for every 32 KB that arrived: 10 MB may take 320 s", () => {
    expect(bodyDeadline(1_000, 0, DOOR_LIMITS)).toBe(16_000);
    expect(bodyDeadline(1_000, 400 * 1024, DOOR_LIMITS)).toBe(16_000);
    expect(bodyDeadline(1_000, 640 * 1024, DOOR_LIMITS)).toBe(21_000);
    expect(bodyDeadline(0, 10 * 1024 * 1024, DOOR_LIMITS)).toBe(320_000);
    // Node's own backstop never cuts off a body the door would still wait for
    expect(longestRequestMs(DOOR_LIMITS)).toBeGreaterThan(DOOR_LIMITS.headersMs + 320_000);
  });

  it("hands on a body whole, with its length, whether it came with a length or chunked", async () => {
    const body = Buffer.from(JSON.stringify({ filenames: ["a.safetensors"] }));

    await request({ method: "POST", path: "/api/admin/models/download-batch", headers: { "content-length": body.length } }, body);
    await request({ method: "POST", path: "/api/admin/models/download-batch" }, body, true);

    expect(received.map((req) => [req.body.toString(), req.headers["content-length"], req.headers["transfer-encoding"]])).toEqual([
      [body.toString(), String(body.length), undefined],
      [body.toString(), String(body.length), undefined],
    ]);
  });

  it("holds no upstream slot for a body on its way in: 20 trickling bodies leave a GET answered at once", async () => {
    await startFront({ limits: { bodyMs: 1_500, lingerMs: 200 } });
    const head = `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: 1000\r\n\r\n{`;
    const tricklers = Array.from({ length: 20 }, () => rawTimed(head));
    const drip = setInterval(() => tricklers.forEach((client) => client.socket.write(" ")), 100);

    const started = Date.now();
    const get = await request({ path: "/api/admin/models" });
    const getMs = Date.now() - started;
    const answers = await Promise.all(tricklers.map((client) => client.closed));
    clearInterval(drip);

    expect(get.status).toBe(200);
    expect(getMs).toBeLessThan(500);
    for (const { text, firstMs, closedMs } of answers) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toEqual({
        detail: expect.stringMatching(/^Request body too slow: \d+ of 1000 bytes arrived in \d+ s\. Send the whole body within 1\.5 s/),
      });
      expect(firstMs).toBeGreaterThanOrEqual(1_400);
      expect(closedMs).toBeLessThan(4_000);
    }
    expect(received.map((req) => req.method)).toEqual(["GET"]);
  });

  it("gives a larger body more time as long as it keeps coming at the minimum rate, and no more", async () => {
    await startFront({ limits: { bodyMs: 500, bodyBytesPerSecond: 1_000, lingerMs: 100 } });
    const send = (bytesPer50ms: number) => {
      const client = rawTimed(`POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: 1500\r\nConnection: close\r\n\r\n`);
      let sent = 0;
      const drip = setInterval(() => {
        const piece = Math.min(bytesPer50ms, 1_500 - sent);
        if (piece > 0) client.socket.write(" ".repeat(piece));
        sent += piece;
      }, 50);
      return client.closed.finally(() => clearInterval(drip));
    };

    // 1,500 bytes at 2,000 B/s take 0.75 s, past the 0.5 s; at 200 B/s they would take 7.5 s
    answer = (req, res) => res.end(JSON.stringify({ length: req.headers["content-length"] }));
    const [steady, slow] = await Promise.all([send(100), send(10)]);

    expect(steady.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(steady.text.endsWith('{"length":"1500"}')).toBe(true);
    expect(slow.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.firstMs).toBeLessThan(1_500);
  });

  it("answers 503 to a body that would take the bodies held past their cap, and has room again once one is handed on", async () => {
    await startFront({ limits: { bufferedBytes: 1_000, lingerMs: 100 } });
    const head = (length: number) =>
      `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
    const holder = rawTimed(head(800));
    await sleep(100);

    const refused = await rawTimed(head(300)).closed;
    holder.socket.write(" ".repeat(800));
    const held = await holder.closed;
    const after = await rawTimed(head(300) + " ".repeat(300)).closed;

    expect(refused.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused.text.toLowerCase()).toContain("retry-after: 5");
    expect(refused.text).toContain('{"detail":"Too many request bodies on their way in at once: try again in a few seconds"}');
    expect(held.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(after.text).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe("headers on their way in", () => {
  it("answers 408 JSON to headers that do not arrive within the deadline, and to a connection that sends nothing", async () => {
    await startFront({ limits: { headersMs: 500 } });

    const partial = rawTimed("GET /api/admin/models HTTP/1.1\r\nHost: x\r\n");
    const silent = rawTimed("");
    const [cut, nothing] = await Promise.all([partial.closed, silent.closed]);

    for (const reply of [cut, nothing]) {
      expect(reply.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(reply.text).toContain('{"detail":"Request timed out');
      expect(reply.closedMs).toBeGreaterThanOrEqual(450);
      expect(reply.closedMs).toBeLessThan(2_500);
    }
  });

  it("keeps an idle keep-alive connection open far past the headers' deadline", async () => {
    await startFront({ limits: { headersMs: 300 } });
    const sockets = new Set<net.Socket>();
    front.on("connection", (socket: net.Socket) => sockets.add(socket));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

    const first = await request({ path: "/api/admin/models", agent });
    await sleep(1_500);
    const second = await request({ path: "/api/admin/models", agent });
    agent.destroy();

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(sockets.size).toBe(1);
  });
});
