import middy from "@middy/core";
import { createHash } from "node:crypto";
import type { Context } from "aws-lambda";
import { errorResponse } from "./error-response";
import { header, type ApiEvent, type ApiResult } from "./types";

/** A page built at bundle time (web/build/page.cjs): the HTML and the CSP hashes of its inline script and style. */
export interface PageAssets {
  readonly html: string;
  readonly scriptHash: string;
  readonly styleHash: string;
}

/**
 * Nothing but the page's own inline script and style may run or apply, and it may talk to its own origin
 * only: catalog text that slipped into the markup could not run, and no third party is ever contacted.
 */
export const contentSecurityPolicy = ({ scriptHash, styleHash }: Pick<PageAssets, "scriptHash" | "styleHash">): string =>
  [
    "default-src 'self'",
    `script-src '${scriptHash}'`,
    `style-src '${styleHash}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

/** The page's ETag: its whole text, which holds the script and the style. */
export const pageEtag = (html: string): string => `"${createHash("sha256").update(html, "utf8").digest("base64url").slice(0, 27)}"`;

/** The response to GET of the page: 304 when the browser already has this build. */
export function pageResponse(assets: PageAssets, etag: string, ifNoneMatch: string | undefined): ApiResult {
  const headers = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": contentSecurityPolicy(assets),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // revalidated on every load, so a new version shows at once; the ETag makes that a 304
    "Cache-Control": "no-cache",
    ETag: etag,
  };
  if (ifNoneMatch?.split(",").some((tag) => tag.trim() === etag)) return { statusCode: 304, headers, body: "" };
  return { statusCode: 200, headers, body: assets.html };
}

/**
 * The composition of a page a browser loads: errors as {"detail"} like every route, but no API key, since
 * a page can't send one on navigation. The page itself asks for the key and sends it with each API call;
 * nothing the page serves is a secret (it holds no data), and this is the only route without the key.
 */
export function page(assets: PageAssets) {
  const etag = pageEtag(assets.html);
  return middy<ApiEvent, ApiResult, Error, Context>()
    .use(errorResponse())
    .handler(async (event) => pageResponse(assets, etag, header(event, "if-none-match")));
}
