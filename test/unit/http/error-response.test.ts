import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../../lib/config";
import * as domain from "../../../lib/errors";
import { BadRequestError, ERROR_STATUS, errorResponse, shownError, statusOf, UnauthorizedError } from "../../../lib/http/error-response";
import type { ApiMiddleware } from "../../../lib/http/types";

afterEach(() => vi.restoreAllMocks());

/** What the middleware answers for `error`, and what it logged. */
function answer(error: unknown): { status: number; body: string; logged: string } {
  const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const request = { error } as Parameters<NonNullable<ApiMiddleware["onError"]>>[0];
  void errorResponse().onError?.(request);
  return { status: request.response!.statusCode, body: request.response!.body, logged: logged.mock.calls.flat().join("\n") };
}

/** The statuses clients have always been given, by error. */
const EXPECTED = [
  [domain.MalformedError, 400],
  [domain.NotFoundError, 404],
  [domain.ConflictError, 409],
  [domain.TooLargeError, 413],
  [domain.InvalidError, 422],
  [domain.BrokenStateError, 500],
  [domain.BusyError, 503],
  [domain.RefusedUpstreamError, 403],
  [domain.UpstreamError, 502],
  [domain.UpstreamTimedOutError, 504],
  [BadRequestError, 400],
  [UnauthorizedError, 401],
] as const;

describe("the status of each error", () => {
  it.each(EXPECTED.map(([type, status]) => [type.name, type, status] as const))("answers a %s with %i and its detail", (_name, type, status) => {
    const error = new type("what to do about it");

    expect(shownError(error)).toEqual({ status, detail: "what to do about it" });
    expect(answer(error)).toMatchObject({ status, body: JSON.stringify({ detail: "what to do about it" }) });
  });

  it("has a status for every domain error lib/errors.ts exports, so none becomes an unexplained 500", () => {
    const types = Object.values(domain).filter((value) => (value as { prototype?: unknown }).prototype instanceof domain.DomainError);

    expect(types.length).toBeGreaterThanOrEqual(7);
    for (const type of types) expect(ERROR_STATUS.some(([known]) => known === type), type.name).toBe(true);
  });

  it("answers a subclass as its parent: a ConfigError is a 500 that shows what to fix", () => {
    const error = new ConfigError("Invalid configuration: PORT: expected a number");

    expect(answer(error)).toMatchObject({ status: 500, body: JSON.stringify({ detail: "Invalid configuration: PORT: expected a number" }) });
  });

  it("shows an invalid request's issue list as FastAPI does", () => {
    const issues = [{ loc: ["body", "filenames"], msg: "Required", type: "missing" }];

    expect(answer(new domain.InvalidError(issues))).toMatchObject({ status: 422, body: JSON.stringify({ detail: issues }) });
  });
});

describe("an error not meant for a client", () => {
  it("is a 500 'Internal error' with nothing of it in the answer, and its cause, redacted, in the log", () => {
    const error = new Error("GET https://civitai.com/api/download/models/1?token=s3cr3t-t0ken failed at /srv/studio/state");

    const { status, body, logged } = answer(error);

    expect(statusOf(error)).toBe(500);
    expect(shownError(error)).toBeUndefined();
    expect(status).toBe(500);
    expect(body).toBe(JSON.stringify({ detail: "Internal error" }));
    expect(logged).toContain("civitai.com");
    expect(logged).not.toContain("s3cr3t-t0ken");
  });

  it("is a 500 even when it carries a status code and a detail of its own", () => {
    const error = Object.assign(new Error("upstream said 404"), { statusCode: 404, detail: "upstream said 404" });

    expect(answer(error)).toMatchObject({ status: 500, body: JSON.stringify({ detail: "Internal error" }) });
  });
});
