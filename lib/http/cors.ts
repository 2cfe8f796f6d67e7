import { header, type ApiMiddleware, type ApiResult } from "./types";

export const CORS_ALLOWED_HEADERS = ["Content-Type", "X-API-Key"];

/** Longer is not an origin (a host name is at most 253 characters): such an Origin is simply not allowed. */
export const MAX_ORIGIN_LENGTH = 1_024;

/**
 * `chrome-extension://*` style patterns: `*` stands for any run of characters but `/`, the rest is
 * literal, in any case. Checked in one pass over the Origin: a regex of `[^/]*` per `*` backtracked in
 * O(n^stars) (2 s for a 2,000-character Origin against `https://*.*.*.example.com`).
 */
export function originAllowed(origin: string, patterns: readonly string[]): boolean {
  if (origin.length > MAX_ORIGIN_LENGTH) return false;
  return patterns.some((pattern) => pattern === "*" || originMatches(origin, pattern));
}

/**
 * One pattern, as the regex `^…$` with `[^/]*` for each `*` and flag `i` matched. Since no `*` takes a
 * `/`, the n-th `/` of the Origin is the n-th literal `/` of the pattern: so the two are split at `/`
 * and matched piece by piece, where `*` may take anything.
 */
export function originMatches(origin: string, pattern: string): boolean {
  const pieces = fold(origin).split("/");
  const globs = fold(pattern).split("/");
  return pieces.length === globs.length && globs.every((glob, i) => globMatches(pieces[i]!, glob));
}

/**
 * A glob without `/`: the text before the first `*` starts it, the text after the last ends it, and the
 * texts between are found in order, each as early as it occurs (the earliest leaves the most room for
 * the rest). One indexOf a text: linear in the piece's length for a given pattern.
 */
function globMatches(piece: string, glob: string): boolean {
  const parts = glob.split("*");
  if (parts.length === 1) return piece === glob;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (piece.length < first.length + last.length || !piece.startsWith(first) || !piece.endsWith(last)) return false;
  const end = piece.length - last.length;
  let at = first.length;
  for (const part of parts.slice(1, -1)) {
    const found = piece.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Case folded as a regex with flag `i` and no `u` compares characters: each UTF-16 unit upper-cased,
 * unless that takes it to several units or from beyond ASCII into it (`ſ` stays `ſ`, never `S`).
 */
function fold(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text.toUpperCase();
  const units: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text[i]!;
    const upper = unit.toUpperCase();
    units.push(upper.length === 1 && !(unit.charCodeAt(0) >= 128 && upper.charCodeAt(0) < 128) ? upper : unit);
  }
  return units.join("");
}

/** The CORS headers a response to `origin` carries: none for an origin not on the list. */
export function corsHeaders(origin: string | undefined, patterns: readonly string[]): Record<string, string> {
  if (origin === undefined || !originAllowed(origin, patterns)) return { Vary: "Origin" };
  return { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(","), Vary: "Origin" };
}

/**
 * CORS headers on every response, errors included, for an allowed Origin, so the Chrome extension can
 * read a 401 as well as a 200. `origins` is asked at each response (CORS_ORIGINS, from the handler's
 * configuration). Preflight OPTIONS never reaches a handler: API Gateway (a mock
 * integration) and serverless-offline answer it from serverless.yml's `cors` settings.
 */
export const cors = ({ origins }: { origins: () => readonly string[] }): ApiMiddleware => {
  const addHeaders = (request: { event: { headers: Record<string, string | undefined> }; response: ApiResult | null }) => {
    if (!request.response) return;
    const headers = corsHeaders(header(request.event, "origin"), origins());
    request.response.headers = { ...request.response.headers, ...headers };
  };
  return { after: addHeaders, onError: addHeaders };
};
