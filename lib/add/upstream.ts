/**
 * The look-up of a model added by URL, as one bounded errand: every request of it (through
 * lib/metadata/client.ts: its retries, credentials to their own host, the address policy) shares one
 * deadline, METADATA_TIMEOUT_SECONDS and never past API Gateway's 29 s; and what goes wrong is said as the
 * domain's errors (lib/errors.ts), never with what the upstream wrote.
 */
import type { z } from "zod";
import type { Config } from "../config";
import { UpstreamError, UpstreamTimedOutError } from "../errors";
import { getJson, MetadataError, parsed, UpstreamTimeoutError, type Reply } from "../metadata/client";
import type { Secret } from "../secret";

// API Gateway answers 504 itself after 29 s: the look-up ends before, with room for the catalog's write
const MAX_LOOKUP_MS = 25_000;

export type Upstream = "CivitAI" | "Hugging Face";

export interface Lookup {
  readonly config: Config;
  readonly deadline: AbortSignal;
  readonly seconds: number;
}

/** A look-up that ends by METADATA_TIMEOUT_SECONDS (25 s at most), from now. */
export function startLookup(config: Config): Lookup {
  const ms = Math.min(config.metadataTimeoutMs, MAX_LOOKUP_MS);
  return { config, deadline: AbortSignal.timeout(ms), seconds: ms / 1000 };
}

function translated(error: unknown, where: Upstream, lookup: Lookup): unknown {
  if (error instanceof UpstreamTimeoutError || lookup.deadline.aborted) {
    return new UpstreamTimedOutError(`${where} did not answer within ${lookup.seconds} s (METADATA_TIMEOUT_SECONDS); try again later`);
  }
  // the client's messages say a status, a host or a network error code, never the server's text or a credential
  if (error instanceof MetadataError) return new UpstreamError(`Could not look the model up on ${where}: ${error.message}`);
  return error;
}

/** One request of the look-up: the answer, whatever its status (a timeout and a failed connection throw). */
export async function ask(url: URL, token: Secret | undefined, where: Upstream, lookup: Lookup, method = "GET"): Promise<Reply> {
  try {
    return await getJson(url, token, lookup.config, method, undefined, lookup.deadline);
  } catch (error) {
    throw translated(error, where, lookup);
  }
}

/** The answer's JSON in `schema`'s shape. */
export async function read<T>(answer: Reply, schema: z.ZodType<T>, where: Upstream, lookup: Lookup): Promise<T> {
  try {
    return await parsed(answer, schema, where);
  } catch (error) {
    throw translated(error, where, lookup);
  }
}

/** A status the look-up has no words of its own for. */
export function unexpected(answer: Reply, where: Upstream): UpstreamError {
  answer.discard();
  return new UpstreamError(`Could not look the model up on ${where}: HTTP ${answer.status}`);
}

export { sizeGb } from "../catalog/schema";

/** A SHA256 as the catalog keeps it (lowercase), or undefined when `text` is not one. */
export function sha256Of(text: string | undefined): string | undefined {
  const hex = /^"?([0-9a-f]{64})"?$/i.exec(text ?? "")?.[1];
  return hex?.toLowerCase();
}

export const ADDED_TAG = "added";

/** The upstream's tags and "added", each once, in their order. */
export const withAddedTag = (tags: readonly string[]): string[] => [...new Set([...tags, ADDED_TAG])];

/** What a look-up found: the entry's fields but `dest`, and the ComfyUI folder its source says it goes to. */
export interface Found {
  readonly fields: { readonly name: string; readonly file: string } & Record<string, unknown>;
  readonly folder: string | undefined;
  /** What the folder would come from, for the 422 asking for `dest` when there is none: `its CivitAI type "Poses"`. */
  readonly folderFrom: string;
}
