import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declaredRoutes, parseRawAnswer, rawRequest, rawSocket, type Route } from "../support/hostile-http";
import { startOwnStack, type OwnStack } from "../support/own-stack";

/**
 * The API key over real HTTP, on every route the key guards: what the unit tests of lib/http/auth.ts
 * cannot see (header names as the HTTP stack hands them over, duplicates, limits, the key elsewhere
 * than in its header), and a stack started with no key or a blank one, which must generate its own.
 */
const KEY = "api-key-test-6f1d2c9e0b";
const UNAUTHORIZED = { detail: "Invalid or missing API key" };

/** Every route but the page, with a filename the catalog lacks: each must refuse a request without the key. */
async function guardedRoutes(): Promise<Route[]> {
  return (await declaredRoutes())
    .filter((route) => route.path !== "/admin")
    .map((route) => ({ ...route, path: route.path.replace("{filename}", "not_in_catalog.safetensors") }));
}

describe("the API key", () => {
  let own: OwnStack;
  let routes: { method: string; path: string }[];
  const port = () => Number(new URL(own.stack.baseUrl).port);

  beforeAll(async () => {
    routes = await guardedRoutes();
    own = await startOwnStack({ API_KEY: KEY });
  });

  afterAll(async () => {
    if (!own) return;
    const hits = await own.secretsOnDisk();
    await own.close();
    expect(hits).toEqual([]);
  });

  const refusals: [string, [string, string][], string][] = [
    ["no key", [], ""],
    ["an empty key", [["X-API-Key", ""]], ""],
    ["a wrong key", [["X-API-Key", "wrong"]], ""],
    ["the key in other case", [["X-API-Key", KEY.toUpperCase()]], ""],
    ["the key with a character more", [["X-API-Key", `${KEY}0`]], ""],
    ["the key less its last character", [["X-API-Key", KEY.slice(0, -1)]], ""],
    ["an 8 KB key", [["X-API-Key", "k".repeat(8 * 1024)]], ""],
    ["the key twice", [["X-API-Key", KEY], ["X-API-Key", KEY]], ""],
    ["the right key, then a wrong one", [["X-API-Key", KEY], ["x-api-key", "wrong"]], ""],
    ["a wrong key, then the right one", [["x-api-key", "wrong"], ["X-API-Key", KEY]], ""],
    ["two keys in one header", [["X-API-Key", `${KEY},${KEY}`]], ""],
    ["the key as a bearer token", [["Authorization", `Bearer ${KEY}`]], ""],
    ["the key in a cookie", [["Cookie", `X-API-Key=${KEY}; api_key=${KEY}`]], ""],
    ["the key in the query string", [], `?api_key=${KEY}&X-API-Key=${KEY}&x-api-key=${KEY}&key=${KEY}`],
    ["the key under another header name", [["X-API-Key-", KEY], ["API-Key", KEY], ["X_API_KEY", KEY]], ""],
  ];

  it.each(refusals)("refuses %s on every guarded route with 401 {detail}", async (_what, headers, query) => {
    const problems: string[] = [];
    for (const route of routes) {
      const reply = await rawRequest(port(), { method: route.method, path: route.path + query, headers });
      const body = reply.text === "" ? undefined : (JSON.parse(reply.text) as unknown);
      if (reply.status !== 401 || reply.leaks.length > 0 || JSON.stringify(body) !== JSON.stringify(UNAUTHORIZED)) {
        problems.push(`${route.method} ${route.path}: ${reply.status} ${reply.text.slice(0, 100)}`);
      }
      if (!String(reply.headers["content-type"]).startsWith("application/json")) problems.push(`${route.method} ${route.path}: ${reply.headers["content-type"]}`);
    }
    expect(problems).toEqual([]);
  });

  it.each(["X-API-Key", "x-api-key", "X-Api-Key", "X-API-KEY", "x-API-kEy"])("takes the key in a header named %s, streamed route included", async (name) => {
    const listing = await rawRequest(port(), { method: "GET", path: "/api/admin/models/metadata-status", headers: [[name, KEY]] });
    const stream = await rawRequest(port(), { method: "GET", path: "/api/admin/models/status?max_seconds=1", headers: [[name, KEY]] });

    expect(listing.status).toBe(200);
    expect(stream.status).toBe(200);
    expect(stream.text).toMatch(/^data: /);
  });

  it("takes the key with the blanks HTTP strips around a header value", async () => {
    const reply = await rawRequest(port(), { method: "GET", path: "/api/admin/models/metadata-status", headers: [["X-API-Key", `  ${KEY}\t`]] });

    expect(reply.status).toBe(200);
  });

  it("answers a 1 MB key with 431 {detail}, and keeps serving", async () => {
    const { text } = await rawSocket(port(), `GET /api/admin/models HTTP/1.1\r\nHost: x\r\nX-API-Key: ${"k".repeat(1024 * 1024)}\r\n\r\n`);
    const answer = parseRawAnswer(text);
    const after = await rawRequest(port(), { method: "GET", path: "/api/admin/models/metadata-status", headers: [["X-API-Key", KEY]] });

    expect(answer?.status).toBe(431);
    expect(answer?.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(answer!.body)).toHaveProperty("detail");
    expect(after.status).toBe(200);
  });

  // without API_KEY at all is the same path (a blank one is read as none), and start.test.ts covers it
  it("has no default key: a stack started with a blank API_KEY generates one and refuses every guess", async () => {
    const fresh = await startOwnStack({ API_KEY: "   " });
    try {
      const keyFile = path.join(fresh.stack.studioDir, "api-key");
      const generated = (await readFile(keyFile, "utf8")).trim();
      const guesses = [undefined, "", " ", "undefined", "null", "admin", "changeme", "default", "secret", "test", "api-key", OWN_GUESS];
      const statuses = await Promise.all(
        guesses.map(async (guess) => {
          const reply = await rawRequest(Number(new URL(fresh.stack.baseUrl).port), {
            method: "GET",
            path: "/api/admin/models/metadata-status",
            headers: guess === undefined ? [] : [["X-API-Key", guess]],
          });
          return reply.status;
        }),
      );
      const right = await rawRequest(Number(new URL(fresh.stack.baseUrl).port), { method: "GET", path: "/api/admin/models/metadata-status", headers: [["X-API-Key", generated]] });

      expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(statuses).toEqual(guesses.map(() => 401));
      expect(right.status).toBe(200);
      expect(await fresh.secretsOnDisk()).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});

// the key the test stacks use when a test sets none: never valid for a stack that made its own
const OWN_GUESS = "own-stack-key-3d9a61c0";
