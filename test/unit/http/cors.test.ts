import middy from "@middy/core";
import type { Context } from "aws-lambda";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ApiEvent, ApiResult } from "../../../lib/http/types";
import * as cors from "../../../lib/http/cors";
import * as errorResponse from "../../../lib/http/error-response";
import * as types from "../../../lib/http/types";
import { lambdaContext, restEvent, testConfig } from "../helpers";

// the origins a pod's CORS_ORIGINS allows here
const config = testConfig({ CORS_ORIGINS: "chrome-extension://*, https://admin.example.com" });

describe("originAllowed", () => {
  const extension = ["chrome-extension://*"];

  it.each(["chrome-extension://abcdefghijklmnopabcdefghijklmnop", "chrome-extension://x", "CHROME-EXTENSION://ABCDEF"])(
    "allows the extension origin %s under chrome-extension://*",
    (origin) => {
      expect(cors.originAllowed(origin, extension)).toBe(true);
    },
  );

  it.each([
    "https://chrome-extension.evil.com",
    "https://evil.com/chrome-extension://abc",
    "xchrome-extension://abc",
    "chrome-extension://abc/evil",
    "moz-extension://abc",
    "null",
  ])("does not allow %s under chrome-extension://*", (origin) => {
    expect(cors.originAllowed(origin, extension)).toBe(false);
  });

  it("allows an exact origin, in any case, and nothing that merely resembles it", () => {
    const patterns = ["https://admin.example.com"];

    expect(cors.originAllowed("https://admin.example.com", patterns)).toBe(true);
    expect(cors.originAllowed("HTTPS://Admin.Example.COM", patterns)).toBe(true);
    expect(cors.originAllowed("https://admin.example.com.evil.com", patterns)).toBe(false);
    expect(cors.originAllowed("https://adminXexample.com", patterns)).toBe(false);
    expect(cors.originAllowed("http://admin.example.com", patterns)).toBe(false);
    expect(cors.originAllowed("https://admin.example.com:8443", patterns)).toBe(false);
    expect(cors.originAllowed("https://evil.example.com", patterns)).toBe(false);
  });

  it("lets '*' in a host stand for one label run but never for a path", () => {
    const patterns = ["https://*.example.com"];

    expect(cors.originAllowed("https://pod-1.example.com", patterns)).toBe(true);
    expect(cors.originAllowed("https://evil.com/x.example.com", patterns)).toBe(false);
    expect(cors.originAllowed("https://example.com", patterns)).toBe(false);
  });

  it("allows every origin under a lone '*', and none under no patterns", () => {
    expect(cors.originAllowed("https://anything.example", ["*"])).toBe(true);
    expect(cors.originAllowed("chrome-extension://abc", [])).toBe(false);
  });

  it("allows an origin that any one of several patterns allows", () => {
    const patterns = ["https://admin.example.com", "chrome-extension://*"];

    expect(cors.originAllowed("chrome-extension://abc", patterns)).toBe(true);
    expect(cors.originAllowed("https://admin.example.com", patterns)).toBe(true);
    expect(cors.originAllowed("https://other.example.com", patterns)).toBe(false);
  });
});

describe("originAllowed against a hostile Origin", () => {
  // the matcher before: one regex a pattern, `[^/]*` a `*`; it backtracked in O(n^stars)
  const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const regexMatches = (origin: string, pattern: string): boolean =>
    pattern === "*" || new RegExp(`^${pattern.split("*").map(escapeRegExp).join("[^/]*")}$`, "i").test(origin);

  const timed = (run: () => void): number => {
    const start = performance.now();
    run();
    return performance.now() - start;
  };

  it("refuses a 2,000-character Origin against a pattern of several '*' at once (the regex took 2 s)", () => {
    const origin = `https://${".".repeat(2_000)}/`;
    let allowed = true;

    const ms = timed(() => (allowed = cors.originAllowed(origin, ["https://*.*.*.example.com"])));

    expect(allowed).toBe(false);
    expect(ms).toBeLessThan(100);
  });

  it("matches Origins up to the cap in time linear in their length (the regex took 0.2 s for 1,000 characters)", () => {
    const near = `https://${".".repeat(1_000)}`;
    const match = `https://${"a.".repeat(490)}example.com`;
    let results: boolean[] = [];

    // ten rounds, so that one pause of a loaded machine is not mistaken for the matcher
    const ms = timed(() => {
      for (let round = 0; round < 10; round++) results = [near, match].map((origin) => cors.originAllowed(origin, ["https://*.*.*.example.com"]));
    });

    expect(results).toEqual([false, true]);
    expect(ms).toBeLessThan(200);
  });

  it("takes about as long for a million characters as the regex for a thousand (one pass a pattern)", () => {
    const origin = `https://${"-.".repeat(500_000)}`;

    const ms = timed(() => cors.originMatches(origin, "https://*.*.*.*.*-*-*.example.com"));

    expect(cors.originMatches(`https://${"-.".repeat(500_000)}x.example.com`, "https://*.*.*.*.*-*-*.example.com")).toBe(true);
    expect(ms).toBeLessThan(500);
  });

  it("does not allow an Origin over 1,024 characters, even one a pattern would match", () => {
    const at = (length: number) => `chrome-extension://${"a".repeat(length - "chrome-extension://".length)}`;

    expect(cors.originAllowed(at(1_024), ["chrome-extension://*"])).toBe(true);
    expect(cors.originAllowed(at(1_025), ["chrome-extension://*"])).toBe(false);
    expect(cors.originAllowed(at(1_025), ["*"])).toBe(false);
    expect(cors.corsHeaders(at(1_025), ["chrome-extension://*"])).toEqual({ Vary: "Origin" });
  });

  it("allows exactly what the regex allowed, case folding included", () => {
    // few characters, so that origins and patterns meet often: '/' and '*' and letters whose case folds oddly
    const unit = fc.constantFrom("a", "A", "b", ".", "/", ":", "-", "*", "\u017f", "s", "S", "\u212a", "k", "\u00e9", "\u00c9", "\ud83d", "\n");
    const text = fc.string({ unit, maxLength: 12 });

    fc.assert(
      fc.property(text, text, (origin, pattern) => {
        expect(cors.originAllowed(origin, [pattern])).toBe(regexMatches(origin, pattern));
      }),
      { seed: 12, numRuns: 5_000 },
    );
  });
});

describe("cors middleware", () => {
  const lambda = (work: () => Promise<ApiResult>, options: Parameters<typeof cors.cors>[0] = { origins: () => config.corsOrigins }) =>
    middy<ApiEvent, ApiResult, Error, Context>().use(cors.cors(options)).use(errorResponse.errorResponse()).handler(work);

  it("adds CORS headers for an origin CORS_ORIGINS allows", async () => {
    const handler = lambda(async () => types.jsonResponse(200, { ok: true }));

    const fromAdmin = await handler(restEvent({ headers: { Origin: "https://admin.example.com" } }), lambdaContext());
    const fromExtension = await handler(restEvent({ headers: { origin: "chrome-extension://abc" } }), lambdaContext());

    expect(fromAdmin.headers).toMatchObject({
      "Access-Control-Allow-Origin": "https://admin.example.com",
      "Access-Control-Allow-Headers": "Content-Type,X-API-Key",
      Vary: "Origin",
    });
    expect(fromExtension.headers?.["Access-Control-Allow-Origin"]).toBe("chrome-extension://abc");
    expect(JSON.parse(fromAdmin.body)).toEqual({ ok: true });
  });

  it("adds no allow-origin header for a disallowed origin or a request without one, but still says it varies", async () => {
    const handler = lambda(async () => types.jsonResponse(200, { ok: true }));

    const evil = await handler(restEvent({ headers: { Origin: "https://chrome-extension.evil.com" } }), lambdaContext());
    const none = await handler(restEvent(), lambdaContext());

    for (const response of [evil, none]) {
      expect(response.headers).not.toHaveProperty("Access-Control-Allow-Origin");
      expect(response.headers).not.toHaveProperty("Access-Control-Allow-Headers");
      expect(response.headers?.Vary).toBe("Origin");
    }
  });

  it("adds CORS headers to an error response too, so the extension can read a 401", async () => {
    const handler = lambda(async () => {
      throw new errorResponse.UnauthorizedError("Invalid or missing API key");
    });

    const response = await handler(restEvent({ headers: { ORIGIN: "chrome-extension://abc" } }), lambdaContext());

    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body)).toEqual({ detail: "Invalid or missing API key" });
    expect(response.headers?.["Access-Control-Allow-Origin"]).toBe("chrome-extension://abc");
  });

  it("uses the origins it is given instead of CORS_ORIGINS", async () => {
    const handler = lambda(async () => types.jsonResponse(200, {}), { origins: () => ["https://only.example"] });

    const only = await handler(restEvent({ headers: { Origin: "https://only.example" } }), lambdaContext());
    const admin = await handler(restEvent({ headers: { Origin: "https://admin.example.com" } }), lambdaContext());

    expect(only.headers?.["Access-Control-Allow-Origin"]).toBe("https://only.example");
    expect(admin.headers).not.toHaveProperty("Access-Control-Allow-Origin");
  });
});
