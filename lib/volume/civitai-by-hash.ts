/**
 * What CivitAI says a SHA256 is: `POST /api/v1/model-versions/by-hash` with up to 100 of them at once (a JSON
 * array; the answer is the versions that have a file of one of those hashes), or, where that route is
 * refused (a mirror or an older CivitAI: 404, 405, 400), `GET /api/v1/model-versions/by-hash/<sha256>` for
 * each (404: none). Through lib/metadata/client.ts: its timeouts, back-off, the key only to CivitAI's own
 * host and the address policy. A SHA256 CivitAI does not know is an answer too (null), cached like a match.
 */
import type { Config } from "../config";
import { getJson, httpError, MetadataError, type Reply } from "../metadata/client";
import { CivitaiVersion } from "../metadata/shapes";
import type { CivitaiMatch } from "../state/hash-cache";
import type { z } from "zod";

/** CivitAI takes at most this many hashes in one call. */
export const BY_HASH_BATCH = 100;

/** Statuses of the batch route that mean "not here": the single route is asked instead. */
const BATCH_REFUSED = new Set([400, 404, 405, 501]);

export class LookupCancelled extends Error {}

type Version = z.infer<typeof CivitaiVersion>;

/** The match a version is for the file of `sha256` (its own name when it has that file, else the primary's). */
export function matchOf(version: Version, sha256: string): CivitaiMatch {
  const file =
    version.files.find((candidate) => candidate.hashes?.SHA256?.toLowerCase() === sha256) ??
    version.files.find((candidate) => candidate.primary) ??
    version.files[0];
  return {
    civitai_version_id: version.id,
    civitai_model_id: version.modelId,
    name: version.model ? `${version.model.name} ${version.name}` : version.name,
    ...(version.model?.type !== undefined && { type: version.model.type }),
    ...(version.baseModel !== undefined && { base_model: version.baseModel }),
    ...(file !== undefined && { file: file.name }),
  };
}

/** The request's answer, unless the signal stops the wait first (the answer, when it comes, is let go). */
async function unlessCancelled(request: Promise<Reply>, signal: AbortSignal): Promise<Reply> {
  if (signal.aborted) throw new LookupCancelled();
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    onAbort = () => {
      void request.then((reply) => reply.discard(), () => undefined);
      reject(new LookupCancelled());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([request, cancelled]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

const refusedKey = (reply: Reply): MetadataError => {
  reply.discard();
  return new MetadataError(`CivitAI refused the request (HTTP ${reply.status}): check CIVITAI_API_KEY`);
};

async function versions(reply: Reply): Promise<Version[]> {
  const json = await reply.json();
  if (!Array.isArray(json)) throw new MetadataError("CivitAI answered the by-hash look-up with JSON of an unexpected shape");
  // CivitAI leaves a null where a version has no file to show; one odd entry costs that entry
  return json.flatMap((entry) => CivitaiVersion.safeParse(entry).data ?? []);
}

/** One call for up to 100 hashes; the status when CivitAI refuses the batch route. */
async function batch(hashes: readonly string[], config: Config, signal: AbortSignal): Promise<Map<string, CivitaiMatch | null> | number> {
  const url = new URL(`${config.civitaiBaseUrl}/api/v1/model-versions/by-hash`);
  const reply = await unlessCancelled(getJson(url, config.civitaiApiKey, config, "POST", hashes), signal);
  if (BATCH_REFUSED.has(reply.status)) {
    reply.discard();
    return reply.status;
  }
  if (reply.status === 401 || reply.status === 403) throw refusedKey(reply);
  if (!reply.ok) throw httpError(reply, "CivitAI");
  const found = new Map<string, CivitaiMatch | null>(hashes.map((sha256) => [sha256, null]));
  for (const version of await versions(reply)) {
    for (const file of version.files) {
      const sha256 = file.hashes?.SHA256?.toLowerCase();
      if (sha256 !== undefined && found.get(sha256) === null) found.set(sha256, matchOf(version, sha256));
    }
  }
  return found;
}

/** One hash on its own: its version, or null when CivitAI has none. */
async function single(sha256: string, config: Config, signal: AbortSignal): Promise<CivitaiMatch | null> {
  // a SHA256 is 64 hex digits (the hash cache's schema): nothing in it can lead the key to another path
  const url = new URL(`${config.civitaiBaseUrl}/api/v1/model-versions/by-hash/${sha256}`);
  const reply = await unlessCancelled(getJson(url, config.civitaiApiKey, config), signal);
  if (reply.status === 404) {
    reply.discard();
    return null;
  }
  if (reply.status === 401 || reply.status === 403) throw refusedKey(reply);
  if (!reply.ok) throw httpError(reply, "CivitAI");
  const version = CivitaiVersion.safeParse(await reply.json());
  if (!version.success) throw new MetadataError("CivitAI answered the by-hash look-up with JSON of an unexpected shape");
  return matchOf(version.data, sha256);
}

export interface Lookup {
  readonly signal: AbortSignal;
  /** Each batch's answers, as they come (a batch of single look-ups too): the caller caches them. */
  onAnswers(answers: ReadonlyMap<string, CivitaiMatch | null>): Promise<void>;
  /** Said once, when the batch route is refused (with its status) and each hash is asked alone from then on. */
  onFallback(status: number): Promise<void>;
}

/** Asks CivitAI about `hashes` (lowercase SHA256s), 100 a call, or one by one once batches are refused. */
export async function lookUpHashes(hashes: readonly string[], config: Config, lookup: Lookup): Promise<void> {
  let batched = true;
  for (let start = 0; start < hashes.length; start += BY_HASH_BATCH) {
    const chunk = hashes.slice(start, start + BY_HASH_BATCH);
    const answered = batched ? await batch(chunk, config, lookup.signal) : undefined;
    if (typeof answered === "number") await lookup.onFallback(answered);
    if (answered instanceof Map) {
      await lookup.onAnswers(answered);
      continue;
    }
    batched = false;
    const answers = new Map<string, CivitaiMatch | null>();
    try {
      for (const sha256 of chunk) answers.set(sha256, await single(sha256, config, lookup.signal));
    } finally {
      // what was answered before a cancel or a failure is kept: it is never asked again
      if (answers.size > 0) await lookup.onAnswers(answers);
    }
  }
}
