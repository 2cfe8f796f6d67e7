import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { contentSecurityPolicy, page, pageEtag } from "../../../lib/http/page";
import type { ApiEvent, ApiResult } from "../../../lib/http/types";

const assets = { html: "<!doctype html><title>x</title>", scriptHash: "sha256-c2NyaXB0", styleHash: "sha256-c3R5bGU=" };
const handler = page(assets);
const get = (headers: Record<string, string> = {}) =>
  handler({ httpMethod: "GET", path: "/admin", headers } as unknown as ApiEvent, {} as Context) as Promise<ApiResult>;

describe("the admin page's response", () => {
  it("is the page as HTML, with no key asked for", async () => {
    const response = await get();

    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(assets.html);
    expect(response.headers).toMatchObject({
      "Content-Type": "text/html; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-cache",
      ETag: pageEtag(assets.html),
    });
  });

  it("lets only its own script and style run, and talks to its own origin only", () => {
    const policy = contentSecurityPolicy(assets);

    expect(policy.split("; ")).toEqual([
      "default-src 'self'",
      "script-src 'sha256-c2NyaXB0'",
      "style-src 'sha256-c3R5bGU='",
      "connect-src 'self'",
      "img-src 'self' data:",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ]);
  });

  it("answers 304 to a browser that has this build, and the page to one with another", async () => {
    expect((await get({ "If-None-Match": pageEtag(assets.html) })).statusCode).toBe(304);
    expect((await get({ "if-none-match": `"old", ${pageEtag(assets.html)}` })).statusCode).toBe(304);
    expect((await get({ "If-None-Match": '"old"' })).statusCode).toBe(200);
  });

  it("changes its ETag with any change of the page", () => {
    expect(pageEtag("<p>a</p>")).not.toBe(pageEtag("<p>b</p>"));
  });
});
