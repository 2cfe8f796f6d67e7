/** The front door's API key check, before anything is handed on to serverless-offline. */
import { describe, expect, it } from "vitest";
import { KEY, sleep, useFront } from "./front-harness";

const { door, startFront, request, rawTimed } = useFront();

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
    expect(door.received).toEqual([]);
  });

  it("lets the admin page, a preflight and the streamed route through without a key", async () => {
    const page = await request({ path: "/admin", headers: { "x-api-key": undefined } });
    const head = await request({ method: "HEAD", path: "/admin/", headers: { "x-api-key": undefined } });
    const preflight = await request({ method: "OPTIONS", path: "/api/admin/models", headers: { "x-api-key": undefined, origin: "chrome-extension://abc", "access-control-request-method": "GET" } });
    const stream = await request({ path: "/api/admin/models/status", headers: { "x-api-key": undefined } });

    expect([page.status, head.status, preflight.status, stream.status]).toEqual([200, 200, 204, 200]);
    expect(door.received.map((req) => `${req.method} ${req.url}`)).toEqual(["GET /admin", "HEAD /admin/"]);
    expect(door.streamedCalls).toEqual(["/api/admin/models/status"]);
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
    expect(door.received).toEqual([]);
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
    expect(door.received.map((req) => req.body.toString())).toEqual(["{}"]);
    expect(door.received[0]?.headers.expect).toBeUndefined();
  });
});
