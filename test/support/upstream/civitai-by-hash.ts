/**
 * CivitAI's look-up of model versions by a file's SHA256, as civitai/civitai's
 * src/pages/api/v1/model-versions/by-hash/{index,[hash]}.ts answer it, over the registered `civitai/<versionId>`
 * files (a file registered under another id is not on CivitAI):
 *   POST /api/v1/model-versions/by-hash          JSON array of up to 100 SHA256s (any case) -> the versions
 *                                                 that have a file of one of them (400 for anything else)
 *   GET  /api/v1/model-versions/by-hash/<hash>    the version, or 404 {"error": "Model not found"}
 * Each version is the one GET /api/v1/model-versions/<id> answers (civitai.ts). A test refuses the batch route,
 * as a mirror or an older CivitAI would, with a canned answer (e.g. 405 for POST on its path).
 */
import { versionInfo } from "./civitai";
import { type Context, type Endpoint, type FileState, touch } from "./files";
import { decodePath, json, readJson } from "./http";

const MAX_HASHES = 100;

/** The CivitAI files whose SHA256 (upper case, as CivitAI keeps it) is one of `hashes`. */
const civitaiFiles = (ctx: Context, hashes: ReadonlySet<string>): FileState[] =>
  [...ctx.files.values()].filter((f) => f.spec.id.startsWith("civitai/") && hashes.has(f.sha256.toUpperCase()));

export const civitaiByHashBatch: Endpoint = {
  route: "civitai-by-hash",
  methods: ["POST"],
  pattern: /^\/api\/v1\/model-versions\/by-hash\/?$/,
  async serve(ctx, ex) {
    const body = await readJson(ex.req);
    const valid = Array.isArray(body) && body.length <= MAX_HASHES && body.every((hash) => typeof hash === "string" && hash.length === 64);
    if (!valid) {
      const why = Array.isArray(body) && body.length > MAX_HASHES ? "Too many hashes" : "Invalid hash";
      return json(ex.res, 400, { error: `Request must include an array of SHA256 Hashes. ${why}` });
    }
    const found = civitaiFiles(ctx, new Set((body as string[]).map((hash) => hash.toUpperCase())));
    for (const f of found) touch(ex, f);
    return json(ex.res, 200, found.map((f) => versionInfo(ctx, ex.req, f)));
  },
};

export const civitaiByHashSingle: Endpoint = {
  route: "civitai-by-hash",
  methods: ["GET"],
  pattern: /^\/api\/v1\/model-versions\/by-hash\/([^/]+)\/?$/,
  serve(ctx, ex, m) {
    const hash = (decodePath(m[1] ?? "") ?? "").toUpperCase();
    const [f] = civitaiFiles(ctx, new Set([hash]));
    touch(ex, f);
    if (!f) return json(ex.res, 404, { error: "Model not found" });
    return json(ex.res, 200, versionInfo(ctx, ex.req, f));
  },
};
