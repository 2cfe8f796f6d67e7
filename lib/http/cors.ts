import { config } from "../config";
import { header, type ApiMiddleware, type ApiResult } from "./types";

export const CORS_ALLOWED_HEADERS = ["Content-Type", "X-API-Key"];

/** `chrome-extension://*` style patterns: `*` stands for any run of characters, the rest is literal. */
export function originAllowed(origin: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => {
    if (pattern === "*") return true;
    const regex = new RegExp(`^${pattern.split("*").map(escapeRegExp).join("[^/]*")}$`, "i");
    return regex.test(origin);
  });
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The CORS headers a response to `origin` carries: none for an origin not on the list. */
export function corsHeaders(origin: string | undefined, patterns: readonly string[]): Record<string, string> {
  if (origin === undefined || !originAllowed(origin, patterns)) return { Vary: "Origin" };
  return { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(","), Vary: "Origin" };
}

/**
 * CORS headers on every response, errors included, for an allowed Origin, so the Chrome extension can
 * read a 401 as well as a 200. Preflight OPTIONS never reaches a handler: API Gateway (a mock
 * integration) and serverless-offline answer it from serverless.yml's `cors` settings.
 */
export const cors = (opts: { origins?: () => readonly string[] } = {}): ApiMiddleware => {
  const { origins } = { origins: () => config().corsOrigins, ...opts };
  const addHeaders = (request: { event: { headers: Record<string, string | undefined> }; response: ApiResult | null }) => {
    if (!request.response) return;
    const headers = corsHeaders(header(request.event, "origin"), origins());
    request.response.headers = { ...request.response.headers, ...headers };
  };
  return { after: addHeaders, onError: addHeaders };
};
