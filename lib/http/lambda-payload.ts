/**
 * What one AWS Lambda invocation can carry, and answers made to fit it. A synchronous invoke takes at most
 * 6 MB in (the event, a binary body base64-encoded in it) and 6 MB out (the result as JSON, its body escaped
 * once more). API Gateway refuses neither by itself: an event that does not fit is a 500 before the function
 * runs, a result that does not fit a 502 after it ran. So, in Lambda only:
 * - a request body over 4 MB is a 413 (body.ts): with base64 and the event around it that is what fits;
 * - an answer over 1 MB goes out gzip-compressed when the client accepts gzip (a listing of 50,000 models is
 *   16 MB of JSON and 1.5 MB gzipped); API Gateway hands such a base64 body to the client as bytes, since every
 *   media type is binary (`binaryMediaTypes: "*\/*"` in serverless.yml);
 * - an answer that cannot fit uncompressed, to a client that does not accept gzip, is a 406 that says to ask
 *   for it compressed, instead of API Gateway's bare 502.
 * Under `npm start` (serverless-offline: no such limits) answers are exactly as they were.
 */
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { header, jsonResponse, type ApiEvent, type ApiMiddleware, type ApiResult } from "./types";

const MiB = 1024 * 1024;
/** Lambda's limit for a synchronous invocation's event and result (the result may be 100 bytes more). */
export const LAMBDA_PAYLOAD_BYTES = 6 * MiB;
/** The largest request body a function in Lambda takes: base64 (4/3) plus the event's headers stay under 6 MB. */
export const LAMBDA_BODY_BYTES = 4 * MiB;
/** Answers above this are compressed by the function; API Gateway compresses smaller ones itself. */
export const COMPRESS_ABOVE_BYTES = 1 * MiB;

const gzipAsync = promisify(gzip);

/** serverless-offline sets IS_OFFLINE for its handlers: `npm start`, not AWS Lambda. */
export const inLambda = (env: NodeJS.ProcessEnv = process.env): boolean => env.IS_OFFLINE !== "true";

export const megabytes = (bytes: number): string => `${Math.round((bytes / MiB) * 10) / 10} MB`;

/** Whether an Accept-Encoding header lets gzip through (`gzip`, `x-gzip` or `*`, with a quality above 0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  let gzipQuality: number | undefined;
  let anyQuality: number | undefined;
  for (const part of (acceptEncoding ?? "").split(",")) {
    const [coding = "", ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const q = params.find((param) => param.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (coding === "gzip" || coding === "x-gzip") gzipQuality = quality;
    else if (coding === "*") anyQuality = quality;
  }
  const quality = gzipQuality ?? anyQuality ?? 0;
  return Number.isFinite(quality) && quality > 0;
}

// A body this small fits even if every character were escaped as \u0000 (6 bytes) in the result's JSON.
const SURELY_FITS_BYTES = Math.floor(LAMBDA_PAYLOAD_BYTES / 8);

const fits = (result: ApiResult): boolean =>
  (typeof result.body === "string" && Buffer.byteLength(result.body) < SURELY_FITS_BYTES) ||
  Buffer.byteLength(JSON.stringify(result)) <= LAMBDA_PAYLOAD_BYTES;

const withVary = (headers: ApiResult["headers"], name: string): string => {
  const vary = headers?.Vary ?? headers?.vary;
  return typeof vary === "string" && vary !== "" ? `${vary}, ${name}` : name;
};

/** A small JSON error in place of an answer that cannot leave Lambda, keeping its CORS headers. */
function refusal(result: ApiResult, statusCode: number, detail: string): ApiResult {
  const reply = jsonResponse(statusCode, { detail });
  const kept = Object.entries(result.headers ?? {}).filter(([name]) => /^(access-control-|vary$)/i.test(name));
  return { ...reply, headers: { ...Object.fromEntries(kept), ...reply.headers, Vary: withVary(result.headers, "Accept-Encoding") } };
}

/** The answer as Lambda can return it: as it is, gzip-compressed, or a 406/500 that says why it cannot. */
export async function fitForLambda(result: ApiResult, acceptEncoding: string | undefined): Promise<ApiResult> {
  if (typeof result.body !== "string" || result.isBase64Encoded === true) return result;
  const bytes = Buffer.byteLength(result.body);
  if (bytes <= COMPRESS_ABOVE_BYTES) return result;
  const headers = { ...result.headers, Vary: withVary(result.headers, "Accept-Encoding") };
  if (acceptsGzip(acceptEncoding)) {
    const zipped = await gzipAsync(result.body);
    const compressed = { ...result, headers: { ...headers, "Content-Encoding": "gzip" }, body: zipped.toString("base64"), isBase64Encoded: true };
    if (fits(compressed)) return compressed;
    return refusal(result, 500, `The answer is ${megabytes(bytes)}, ${megabytes(zipped.length)} compressed: more than AWS Lambda can return (6 MB)`);
  }
  const plain = { ...result, headers };
  if (fits(plain)) return plain;
  return refusal(
    result,
    406,
    `The answer is ${megabytes(bytes)}, more than AWS Lambda can return uncompressed (6 MB): ask for it compressed with the header 'Accept-Encoding: gzip' (curl --compressed)`,
  );
}

/** Every value of a header: API Gateway keeps only the last one of a repeated header in `headers`. */
function allValues(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const multi = Object.entries(event.multiValueHeaders ?? {}).find(([key]) => key.toLowerCase() === wanted)?.[1];
  return multi && multi.length > 0 ? multi.join(",") : header(event, name);
}

/** Fits every answer, errors included, into what Lambda can return; does nothing under `npm start`. */
export const lambdaPayload = (opts: { inLambda?: () => boolean } = {}): ApiMiddleware => {
  const { inLambda: active } = { inLambda: () => inLambda(), ...opts };
  const fit: NonNullable<ApiMiddleware["after"]> = async (request) => {
    if (!request.response || !active()) return;
    request.response = await fitForLambda(request.response, allValues(request.event, "accept-encoding"));
  };
  return { after: fit, onError: fit };
};
