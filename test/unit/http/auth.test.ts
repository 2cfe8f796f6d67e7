import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { timingSafeEqual } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiEvent, ApiResult } from "../../../lib/http/types";
import * as auth from "../../../lib/http/auth";
import * as errorResponse from "../../../lib/http/error-response";
import { configuredKey } from "../../../lib/http/key-source";
import * as types from "../../../lib/http/types";
import { Secret } from "../../../lib/secret";
import { lambdaContext, restEvent, testConfig } from "../helpers";

// timingSafeEqual itself, watched: the comparison must go through it, with buffers of one length
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

// No API_KEY in the environment: the state of a Lambda deployed without one.
const withoutKey = testConfig({ API_KEY: undefined });

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

/** The auth middleware as api() uses it: behind the error middleware, in front of a handler we watch. */
function guarded(options: Parameters<typeof auth.apiKeyAuth>[0] = { key: configuredKey(() => withoutKey) }) {
  const handler = vi.fn(async () => types.jsonResponse(200, { ok: true }));
  const lambda = middy<ApiEvent, ApiResult, Error, Context>()
    .use(errorResponse.errorResponse())
    .use(auth.apiKeyAuth(options))
    .handler(handler);
  return { handler, call: (headers: Record<string, string>) => lambda(restEvent({ headers }), lambdaContext()) };
}

describe("keyMatches", () => {
  it("matches the configured key exactly", () => {
    const key = new Secret("k3y-Value_123");

    expect(auth.keyMatches("k3y-Value_123", key)).toBe(true);
  });

  it.each([
    ["a wrong key", "another-key"],
    ["a different case", "K3Y-VALUE_123"],
    ["a prefix", "k3y-Value_12"],
    ["a longer key", "k3y-Value_1234"],
    ["the key with a space", "k3y-Value_123 "],
    ["an empty string", ""],
  ])("refuses %s", (_what, given) => {
    expect(auth.keyMatches(given, new Secret("k3y-Value_123"))).toBe(false);
  });

  it("never matches when no key was given, even against an empty expected key", () => {
    expect(auth.keyMatches(undefined, new Secret("k3y-Value_123"))).toBe(false);
    expect(auth.keyMatches(undefined, new Secret(""))).toBe(false);
  });

  it("never matches an empty key, even against an empty expected key", () => {
    expect(auth.keyMatches("", new Secret(""))).toBe(false);
  });

  it.each([
    ["the right key", "k3y-Value_123"],
    ["a shorter key", "k"],
    ["a 1 MB key", "k".repeat(1024 * 1024)],
    ["an empty key", ""],
    ["no key", undefined],
  ])("compares %s in constant time: timingSafeEqual over two 32-byte digests, never skipped", (_what, given) => {
    const compare = vi.mocked(timingSafeEqual);
    compare.mockClear();

    auth.keyMatches(given, new Secret("k3y-Value_123"));

    expect(compare).toHaveBeenCalledTimes(1);
    const [a, b] = compare.mock.calls[0]! as [Buffer, Buffer];
    expect([a.length, b.length]).toEqual([32, 32]);
  });
});

describe("apiKeyAuth", () => {
  it("fails closed with a 500 naming API_KEY when no key is configured, whatever the request carries", async () => {
    const { handler, call } = guarded();

    const withoutKey = await call({});
    const withKey = await call({ "X-API-Key": "guess" });
    const withEmpty = await call({ "X-API-Key": "" });

    for (const response of [withoutKey, withKey, withEmpty]) {
      expect(response.statusCode).toBe(500);
      expect(JSON.parse(response.body)).toEqual({ detail: "Server misconfigured: API_KEY is not set" });
    }
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 401 for a missing or wrong key without running the handler", async () => {
    const { handler, call } = guarded({ key: () => new Secret("right-key") });

    const missing = await call({});
    const wrong = await call({ "X-API-Key": "wrong-key" });

    expect(JSON.parse(missing.body)).toEqual({ detail: "Invalid or missing API key" });
    expect(missing.statusCode).toBe(401);
    expect(JSON.parse(wrong.body)).toEqual({ detail: "Invalid or missing API key" });
    expect(wrong.statusCode).toBe(401);
    expect(handler).not.toHaveBeenCalled();
  });

  it.each(["X-API-Key", "x-api-key", "X-Api-Key", "X-API-KEY"])("lets a request with the right key in header %s through", async (name) => {
    const { handler, call } = guarded({ key: () => new Secret("right-key") });

    const response = await call({ [name]: "right-key" });

    expect(JSON.parse(response.body)).toEqual({ ok: true });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("reads the expected key on every request", async () => {
    let current = new Secret("first-key");
    const { call } = guarded({ key: () => current });

    const before = await call({ "X-API-Key": "first-key" });
    current = new Secret("second-key");
    const oldKeyAfter = await call({ "X-API-Key": "first-key" });
    const newKeyAfter = await call({ "X-API-Key": "second-key" });

    expect(JSON.parse(before.body)).toEqual({ ok: true });
    expect(JSON.parse(oldKeyAfter.body)).toEqual({ detail: "Invalid or missing API key" });
    expect(JSON.parse(newKeyAfter.body)).toEqual({ ok: true });
  });
});
