import { createHash, timingSafeEqual } from "node:crypto";
import { config } from "../config";
import { ServerStateError, UnauthorizedError } from "../errors";
import type { Secret } from "../secret";
import { header, type ApiMiddleware } from "./types";

// Hashing first gives both sides one length, so the comparison time says nothing about the key's length either.
const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

export function keyMatches(given: string | undefined, expected: Secret): boolean {
  const matches = timingSafeEqual(digest(given ?? ""), digest(expected.reveal()));
  // compared first, whatever was given; and an empty key is never a key, even against an empty one
  return matches && given !== undefined && given !== "";
}

interface AuthOptions {
  /** Where the expected key comes from; read per request so a Lambda without it fails closed. */
  readonly key?: () => Secret | undefined;
}

/** Every request must carry `X-API-Key`; there is no default key, and without one configured nobody gets in. */
export const apiKeyAuth = (opts: AuthOptions = {}): ApiMiddleware => {
  const { key } = { key: () => config().apiKey, ...opts };
  const before: ApiMiddleware["before"] = (request) => {
    const expected = key();
    if (expected === undefined) throw new ServerStateError("Server misconfigured: API_KEY is not set");
    if (!keyMatches(header(request.event, "x-api-key"), expected)) {
      throw new UnauthorizedError("Invalid or missing API key");
    }
  };
  return { before };
};
