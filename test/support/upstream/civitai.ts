/**
 * CivitAI as the service meets it: the model-version API (files, hashes, early access), the download
 * route answering 307 to presigned S3 storage on the other host name (token by ?token= or Bearer), and
 * that storage serving the bytes until the URL expires. A file's id is `civitai/<versionId>`.
 *   GET      /api/v1/model-versions/<versionId>         version info (and its model's: civitai-models.ts)
 *   GET|HEAD /api/download/models/<versionId>           307 to signed storage
 *   GET|HEAD /signed/<id>?X-Amz-...&exp=<ms>            signed storage, serves bytes until `exp`
 */
import { createHash, randomBytes } from "node:crypto";
import { fmix32 } from "./content";
import type { IncomingMessage } from "node:http";
import { type Context, type Endpoint, type FileState, GET_OR_HEAD, LAST_MODIFIED, touch } from "./files";
import { decodePath, encodePath, header, json, s3Error, text } from "./http";
import { serveBytes } from "./plain";
import type { CivitaiFacts } from "./types";

/** GET|HEAD /signed/<id>: the bytes, while the presigned URL holds (and for `signedUses` GETs of it). */
export const civitaiSigned: Endpoint = {
  route: "signed",
  methods: GET_OR_HEAD,
  pattern: /^\/signed\/(.+)$/,
  serve(ctx, ex, m) {
    const { req, res, url } = ex;
    const f = ctx.files.get(decodePath(m[1] ?? "") ?? "");
    touch(ex, f);
    if (header(req, "authorization") !== null)
      return s3Error(
        res,
        400,
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
      );
    const exp = Number(url.searchParams.get("exp"));
    if (!url.searchParams.get("X-Amz-Signature") || !Number.isFinite(exp) || exp <= 0)
      return s3Error(res, 403, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
    if (Date.now() >= exp) return s3Error(res, 403, "AccessDenied", "Request has expired");
    if (!f) return s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
    if (f.spec.signedUses !== undefined && req.method === "GET") {
      const signature = url.searchParams.get("X-Amz-Signature") ?? "";
      const used = ctx.signedUsed.get(signature) ?? 0;
      if (used >= f.spec.signedUses) return s3Error(res, 403, "AccessDenied", "Request has expired");
      ctx.signedUsed.set(signature, used + 1);
    }
    const extra: Record<string, string> = {};
    const disposition = url.searchParams.get("response-content-disposition");
    if (disposition) extra["Content-Disposition"] = disposition;
    return serveBytes(ctx, ex, f, extra);
  },
};

/** The query of a presigned S3 URL for `f`, valid for the file's `signedTtlMs`. */
function presigned(f: FileState): URLSearchParams {
  const ttl = f.spec.signedTtlMs;
  return new URLSearchParams({
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": "FAKEACCESSKEY/20240115/us-east-1/s3/aws4_request",
    "X-Amz-Date": new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, ""),
    "X-Amz-Expires": String(Math.max(0, Math.ceil(ttl / 1000))),
    "X-Amz-Signature": randomBytes(32).toString("hex"),
    "X-Amz-SignedHeaders": "host",
    "response-content-disposition": `attachment; filename="${f.spec.name}"`,
    exp: String(Date.now() + ttl),
  });
}

/** GET|HEAD /api/download/models/<versionId>: 307 to signed storage, or CivitAI's refusals. */
export const civitaiDownload: Endpoint = {
  route: "civitai-download",
  methods: GET_OR_HEAD,
  pattern: /^\/api\/download\/models\/([^/]+)\/?$/,
  serve(ctx, ex, m) {
    const { req, res, url } = ex;
    const versionId = decodePath(m[1] ?? "") ?? "";
    const f = ctx.files.get(`civitai/${versionId}`);
    touch(ex, f);
    if (!f) return json(res, 404, { error: "Not Found", message: `No model version with id ${versionId}` });
    const auth = header(req, "authorization");
    const token = url.searchParams.get("token") ?? (auth?.startsWith("Bearer ") ? auth.slice(7) : null);
    if (f.spec.mode === "early-access")
      return json(res, 403, {
        error: "Forbidden",
        message: "This resource is in early access and you do not have access to it. Purchase early access to download it.",
      });
    if (f.spec.mode === "needs-token" && (ctx.tokens.civitai === null || token !== ctx.tokens.civitai))
      return json(res, 401, {
        error: "Unauthorized",
        message: "The creator of this asset requires you to be logged in to download it",
      });
    const location = `${ctx.otherHost(req)}/signed/${encodePath(f.spec.id)}?${presigned(f).toString()}`;
    return text(res, 307, `Temporary Redirect. Redirecting to ${location}`, "text/plain; charset=utf-8", { Location: location });
  },
};

/** GET /api/v1/model-versions/<versionId>: the version as the API describes it, its one file primary. */
export const civitaiVersion: Endpoint = {
  route: "civitai-api",
  methods: ["GET"],
  pattern: /^\/api\/v1\/model-versions\/([^/]+)\/?$/,
  serve(ctx, ex, m) {
    const versionId = decodePath(m[1] ?? "") ?? "";
    const f = ctx.files.get(`civitai/${versionId}`);
    touch(ex, f);
    if (!f) return json(ex.res, 404, { error: `No model version with id ${versionId}` });
    return json(ex.res, 200, versionInfo(ctx, ex.req, f));
  },
};

/** A `civitai/<versionId>` file's version as the API describes it (by id and by hash alike), with its `model`. */
export function versionInfo(ctx: Context, req: IncomingMessage, f: FileState) {
  const versionId = f.spec.id.slice("civitai/".length);
  const facts = factsOf(f, versionId);
  const { files, images, downloadUrl, ...version } = versionPayload(ctx, req, f, versionId, facts);
  const model = { name: facts.modelName, type: facts.type, nsfw: false, poi: false };
  return { ...version, model, files, images, downloadUrl };
}

export type Facts = Required<CivitaiFacts>;

/** The facts of `f` (an id `civitai/<versionId>`), defaults filled in. */
export function factsOf(f: FileState, versionId: string): Facts {
  const given = f.spec.civitai ?? {};
  return {
    // a model id of its own, stable for the content
    modelId: given.modelId ?? (fmix32(Number.parseInt(f.sha256.slice(0, 8), 16)) % 900_000) + 100_000,
    modelName: given.modelName ?? `Test model ${versionId}`,
    type: given.type ?? "Checkpoint",
    versionName: given.versionName ?? "v1.0",
    baseModel: given.baseModel ?? "SDXL 1.0",
    status: given.status ?? "Published",
    publishedAt: given.publishedAt === undefined ? LAST_MODIFIED.toISOString() : given.publishedAt,
    tags: given.tags ?? [],
    trainedWords: given.trainedWords ?? [],
  };
}


/** A version in the API's words: as /api/v1/model-versions/<id> has it (there with `model`), and within /api/v1/models/<id>. */
export function versionPayload(ctx: Context, req: IncomingMessage, f: FileState, versionId: string, facts: Facts) {
  const numericId = /^\d+$/.test(versionId) ? Number(versionId) : versionId;
  const when = LAST_MODIFIED.toISOString();
  const downloadUrl = `${ctx.sameHost(req)}/api/download/models/${encodeURIComponent(versionId)}`;
  const early = f.spec.mode === "early-access";
  return {
    id: numericId,
    modelId: facts.modelId,
    name: facts.versionName,
    air: `urn:air:sdxl:${facts.type.toLowerCase()}:civitai:${facts.modelId}@${versionId}`,
    createdAt: when,
    updatedAt: when,
    status: facts.status,
    publishedAt: facts.publishedAt,
    trainedWords: facts.trainedWords,
    trainingStatus: null,
    trainingDetails: null,
    baseModel: facts.baseModel,
    baseModelType: "Standard",
    earlyAccessEndsAt: early ? new Date(Date.now() + 7 * 86_400_000).toISOString() : null,
    availability: early ? "EarlyAccess" : "Public",
    description: null,
    uploadType: "Created",
    stats: { downloadCount: 1234, ratingCount: 0, rating: 0, thumbsUpCount: 56 },
    files: [versionFile(f, facts.modelId, when, downloadUrl)],
    images: [],
    downloadUrl,
  };
}

/** The version's file entry, with every hash CivitAI lists. */
function versionFile(f: FileState, modelId: number, when: string, downloadUrl: string) {
  const sha = f.sha256.toUpperCase();
  return {
    id: modelId * 7 + 1,
    sizeKB: f.spec.size / 1024,
    name: f.spec.name,
    type: "Model",
    pickleScanResult: "Success",
    pickleScanMessage: "No Pickle imports",
    virusScanResult: "Success",
    virusScanMessage: null,
    scannedAt: when,
    metadata: { fp: "fp16", size: "pruned", format: "SafeTensor" },
    hashes: {
      AutoV1: sha.slice(0, 8),
      AutoV2: sha.slice(0, 10),
      SHA256: sha,
      CRC32: f.crc32.toString(16).toUpperCase().padStart(8, "0"),
      // not a real BLAKE3 (node has none); shaped like one
      BLAKE3: createHash("sha256").update(`blake3:${f.sha256}`).digest("hex").toUpperCase(),
      AutoV3: sha.slice(0, 12),
    },
    primary: true,
    downloadUrl,
  };
}
