import { createHash, timingSafeEqual } from "node:crypto";
import { BrokenStateError } from "../errors";
import type { Secret } from "../secret";
import { UnauthorizedError } from "./error-response";
import { header, type ApiMiddleware } from "./types";

// Hashing first gives both sides one length, so the comparison time says nothing about the key's length either.
const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

export function keyMatches(given: string | undefined, expected: Secret): boolean {
  const matches = timingSafeEqual(digest(given ?? ""), digest(expected.reveal()));
  // compared first, whatever was given; and an empty key is never a key, even against an empty one
  return matches && given !== undefined && given !== "";
}

interface AuthOptions {
  /**
   * Where the expected key comes from (lib/http/key-source.ts: API_KEY, else the SSM parameter named by
   * API_KEY_PARAMETER); asked on every request, so a Lambda without a key fails closed and a rotated key is seen.
   */
  readonly key: () => Secret | undefined | Promise<Secret | undefined>;
}

/** Every request must carry `X-API-Key`; there is no default key, and without one configured nobody gets in. */
export const apiKeyAuth = ({ key }: AuthOptions): ApiMiddleware => {
  const before: ApiMiddleware["before"] = async (request) => {
    const expected = await key();
    if (expected === undefined) throw new BrokenStateError("Server misconfigured: API_KEY is not set");
    if (!keyMatches(header(request.event, "x-api-key"), expected)) {
      throw new UnauthorizedError("Invalid or missing API key");
    }
  };
  return { before };
};
