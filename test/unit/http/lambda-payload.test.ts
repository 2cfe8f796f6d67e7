import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createStudio, type Studio } from "../../../lib/catalog/studio";
import { api } from "../../../lib/http/api";
import { acceptsGzip, fitForLambda, LAMBDA_PAYLOAD_BYTES } from "../../../lib/http/lambda-payload";
import { jsonResponse, type ApiResult } from "../../../lib/http/types";
import { lambdaContext, restEvent, setEnv, testConfig } from "../helpers";

const MiB = 1024 * 1024;
const API_KEY = "unit-api-key-payload-01";
// what the handlers here work with: the key and the origins a pod would have
const theStudio = createStudio(testConfig({ API_KEY, CORS_ORIGINS: "chrome-extension://*" }));
const studio = (): Studio => theStudio;

/** A listing-like answer of at least `bytes` of JSON (each entry is 50 to 56 bytes). */
const bigAnswer = (bytes: number) => ({ models: Array.from({ length: Math.ceil(bytes / 50) }, (_, i) => ({ file: `model_${i}.safetensors`, status: "present" })) });
const serialized = (result: ApiResult) => Buffer.byteLength(JSON.stringify(result));
const cors = { "Access-Control-Allow-Origin": "chrome-extension://abc", Vary: "Origin" };

describe("acceptsGzip", () => {
  it.each([
    ["gzip, deflate, br", true],
    ["br;q=1.0, gzip;q=0.8", true],
    ["x-gzip", true],
    ["*", true],
    ["gzip;q=0", false],
    ["*;q=0.5, gzip;q=0", false],
    ["deflate, br", false],
    ["identity", false],
    ["", false],
    [undefined, false],
  ])("%s -> %s", (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

describe("fitForLambda", () => {
  it("leaves an answer of 1 MB or less as it is, whatever the client accepts", async () => {
    const result = jsonResponse(200, bigAnswer(MiB / 2));

    expect(await fitForLambda(result, "gzip")).toBe(result);
  });

  it("gzips a larger answer for a client that accepts gzip: base64, Content-Encoding and Vary set, CORS kept", { timeout: 30_000 }, async () => {
    const answer = bigAnswer(8 * MiB);
    const result = { ...jsonResponse(200, answer), headers: { ...jsonResponse(200, {}).headers, ...cors } };

    const fitted = await fitForLambda(result, "gzip, deflate, br");

    expect(serialized(result)).toBeGreaterThan(LAMBDA_PAYLOAD_BYTES);
    expect(serialized(fitted)).toBeLessThan(LAMBDA_PAYLOAD_BYTES);
    expect(fitted).toMatchObject({ statusCode: 200, isBase64Encoded: true, headers: { "Content-Encoding": "gzip", Vary: "Origin, Accept-Encoding", ...{ "Access-Control-Allow-Origin": "chrome-extension://abc" } } });
    expect(JSON.parse(gunzipSync(Buffer.from(fitted.body, "base64")).toString("utf8"))).toEqual(answer);
  });

  it("sends a larger answer that fits uncompressed as it is to a client without gzip, saying it varies", async () => {
    const result = jsonResponse(200, bigAnswer(2 * MiB));

    const fitted = await fitForLambda(result, undefined);

    expect(fitted.body).toBe(result.body);
    expect(fitted.isBase64Encoded).toBeUndefined();
    expect(fitted.headers?.Vary).toBe("Accept-Encoding");
  });

  it("answers 406 with what to send when the answer cannot fit uncompressed and the client does not accept gzip", { timeout: 30_000 }, async () => {
    const result = { ...jsonResponse(200, bigAnswer(8 * MiB)), headers: { ...jsonResponse(200, {}).headers, ...cors } };

    const fitted = await fitForLambda(result, "identity");

    expect(fitted.statusCode).toBe(406);
    expect(JSON.parse(fitted.body).detail).toMatch(/^The answer is (8|9)(\.\d)? MB, more than AWS Lambda can return uncompressed \(6 MB\): ask for it compressed with the header 'Accept-Encoding: gzip' \(curl --compressed\)$/);
    expect(fitted.headers).toMatchObject({ "Content-Type": "application/json; charset=utf-8", "Access-Control-Allow-Origin": "chrome-extension://abc", Vary: "Origin, Accept-Encoding" });
  });

  it("answers 500 saying so when even the compressed answer cannot fit", { timeout: 30_000 }, async () => {
    const result = jsonResponse(200, { noise: randomBytes(6 * MiB).toString("base64") });

    const fitted = await fitForLambda(result, "gzip");

    expect(fitted.statusCode).toBe(500);
    expect(JSON.parse(fitted.body).detail).toMatch(/^The answer is 8 MB, 6(\.\d)? MB compressed: more than AWS Lambda can return \(6 MB\)$/);
  });
});

describe("api(): answers in AWS Lambda and under npm start", () => {
  beforeEach(() => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
  });
  afterEach(() => {
    setEnv({ IS_OFFLINE: undefined });
    vi.restoreAllMocks();
  });

  const get = (acceptEncoding?: string) =>
    restEvent({ headers: { "X-API-Key": API_KEY, Origin: "chrome-extension://abc", ...(acceptEncoding && { "Accept-Encoding": acceptEncoding }) } });

  it("in Lambda, gzips a large answer for a client that accepts gzip, and keeps its CORS headers", { timeout: 30_000 }, async () => {
    const answer = bigAnswer(8 * MiB);

    const result = await api(async () => answer, { studio })(get("gzip, deflate"), lambdaContext());

    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: true, headers: { "Content-Encoding": "gzip", "Access-Control-Allow-Origin": "chrome-extension://abc" } });
    expect(JSON.parse(gunzipSync(Buffer.from(result.body, "base64")).toString("utf8"))).toEqual(answer);
  });

  it("in Lambda, reads Accept-Encoding from every value of a repeated header", async () => {
    const event = { ...get("br"), multiValueHeaders: { "X-API-Key": [API_KEY], "Accept-Encoding": ["br", "gzip"] } };

    const result = await api(async () => bigAnswer(2 * MiB), { studio })(event, lambdaContext());

    expect(result.headers?.["Content-Encoding"]).toBe("gzip");
  });

  it("under npm start, answers exactly as before: plain JSON, whatever the size and the client", { timeout: 30_000 }, async () => {
    setEnv({ IS_OFFLINE: "true" });
    const answer = bigAnswer(8 * MiB);

    const result = await api(async () => answer, { studio })(get("gzip"), lambdaContext());

    expect(result.isBase64Encoded).toBeUndefined();
    expect(result.headers?.["Content-Encoding"]).toBeUndefined();
    expect(JSON.parse(result.body)).toEqual(answer);
  });
});
