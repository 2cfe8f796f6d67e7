/** Bodies and headers on their way in through the front door: deadlines, the bodies held at once, slow clients. */
import http from "node:http";
import type net from "node:net";
import { describe, expect, it } from "vitest";
import { bodyDeadline, DOOR_LIMITS, longestRequestMs } from "../../../lib/server/buffered-body";
import { KEY, sleep, useFront } from "./front-harness";

const { door, startFront, request, rawTimed } = useFront();

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

    expect(door.received.map((req) => [req.body.toString(), req.headers["content-length"], req.headers["transfer-encoding"]])).toEqual([
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
    expect(door.received.map((req) => req.method)).toEqual(["GET"]);
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
    door.answer = (req, res) => res.end(JSON.stringify({ length: req.headers["content-length"] }));
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
    door.front.on("connection", (socket: net.Socket) => sockets.add(socket));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

    const first = await request({ path: "/api/admin/models", agent });
    await sleep(1_500);
    const second = await request({ path: "/api/admin/models", agent });
    agent.destroy();

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(sockets.size).toBe(1);
  });
});
