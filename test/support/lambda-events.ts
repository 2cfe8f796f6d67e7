/**
 * API Gateway (REST, Lambda proxy integration) as AWS documents it, for lambda-cloud.ts: the v1 event it
 * hands a function (resource, path, headers and multiValueHeaders, query strings both ways, path parameters
 * as sent, percent-encoded, requestContext, a body base64-encoded when its media type is binary), and what a
 * client receives from a function's result (base64 bodies decoded to bytes only when the request's first
 * Accept type is a binary media type; compression when the client accepts gzip and the answer is not encoded).
 */
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { CfnTemplate } from "./package";

export const STAGE = "dev";
export const API_ID = "abc123defg";
/** REST API Gateway's own limit on a request body (REQUEST_TOO_LARGE above it). */
export const API_GATEWAY_BODY_BYTES = 10 * 1024 * 1024;

export interface ClientRequest {
  readonly method: string;
  /** The URL path and query as the client sent them (percent-encoded), without the stage. */
  readonly url: string;
  /** Header names as the client spelled them; a name given twice holds both values. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer | undefined;
}

const mediaType = (value: string | undefined): string | undefined => value?.split(",")[0]?.split(";")[0]?.trim().toLowerCase() || undefined;

/** Whether a media type is one of the API's binary media types (`*\/*` covers all, `image/*` a family). */
export function isBinary(type: string | undefined, binaryMediaTypes: readonly string[]): boolean {
  return binaryMediaTypes.some((entry) => {
    const wanted = entry.toLowerCase();
    if (wanted === "*/*") return true;
    if (type === undefined) return false;
    return wanted === type || (wanted.endsWith("/*") && type.startsWith(wanted.slice(0, -1)));
  });
}

export const headerOf = (request: ClientRequest, name: string): string | undefined =>
  request.headers.filter(([key]) => key.toLowerCase() === name.toLowerCase()).at(-1)?.[1];

function requestTime(date: Date): string {
  const month = date.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${month}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

export interface EventRoute {
  /** The API Gateway resource, e.g. `/api/admin/models/{filename}`. */
  readonly resource: string;
  /** Path parameters as matched in the request's path: still percent-encoded. */
  readonly pathParameters: Record<string, string> | null;
}

/** The event of a Lambda proxy integration, in the shape of AWS's documented REST API example. */
export function restEvent(request: ClientRequest, route: EventRoute, binaryMediaTypes: readonly string[]) {
  const url = new URL(request.url, "https://example.invalid");
  const now = new Date();
  const requestId = randomUUID();
  const gatewayHeaders: [string, string][] = [
    ["Host", `${API_ID}.execute-api.us-east-1.amazonaws.com`],
    ["X-Amzn-Trace-Id", `Root=1-${now.getTime().toString(16)}-${requestId.replace(/-/g, "").slice(0, 24)}`],
    ["X-Forwarded-For", "203.0.113.7, 130.176.0.1"],
    ["X-Forwarded-Port", "443"],
    ["X-Forwarded-Proto", "https"],
    ["Via", "2.0 0123456789abcdef.cloudfront.net (CloudFront)"],
    ["CloudFront-Forwarded-Proto", "https"],
    ["CloudFront-Viewer-Country", "NL"],
  ];
  const all = [...request.headers, ...gatewayHeaders.filter(([name]) => headerOf(request, name) === undefined)];
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of all) {
    // REST APIs keep the last value of a repeated header in `headers`, every value in `multiValueHeaders`
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const body = request.body === undefined || request.body.length === 0 ? undefined : request.body;
  const binary = body !== undefined && isBinary(mediaType(headerOf(request, "content-type")), binaryMediaTypes);
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: route.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: API_ID,
      domainName: `${API_ID}.execute-api.us-east-1.amazonaws.com`,
      domainPrefix: API_ID,
      extendedRequestId: `${requestId.slice(0, 8)}=`,
      httpMethod: request.method,
      identity: {
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: "203.0.113.7",
        user: null,
        userAgent: headerOf(request, "user-agent") ?? null,
        userArn: null,
      },
      path: `/${STAGE}${url.pathname}`,
      protocol: "HTTP/1.1",
      requestId,
      requestTime: requestTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: "a1b2c3",
      resourcePath: route.resource,
      stage: STAGE,
    },
    body: body === undefined ? null : binary ? body.toString("base64") : body.toString("utf8"),
    isBase64Encoded: binary,
  };
}

export interface ClientReply {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Record<string, string>;
  /** The bytes on the wire (compressed when Content-Encoding says so). */
  readonly body: Buffer;
}

/** API Gateway compresses for a client that lists gzip (with a quality above 0) in Accept-Encoding. */
const acceptsGzip = (request: ClientRequest): boolean =>
  (headerOf(request, "accept-encoding") ?? "").split(",").some((part) => {
    const [coding, ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const q = params.find((param) => param.startsWith("q="));
    return coding === "gzip" && (q === undefined || Number(q.slice(2)) > 0);
  });

/** What the client gets for a proxy integration's result: headers merged, binary decoded, maybe compressed. */
export function clientReply(
  result: { statusCode: number; headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]>; body?: string; isBase64Encoded?: boolean },
  request: ClientRequest,
  api: { binaryMediaTypes: readonly string[]; minimumCompressionSize: number | undefined },
): ClientReply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name.toLowerCase()] = values.join(",");
  const binaryAccepted = isBinary(mediaType(headerOf(request, "accept")), api.binaryMediaTypes);
  let body = result.isBase64Encoded === true && binaryAccepted ? Buffer.from(result.body ?? "", "base64") : Buffer.from(result.body ?? "", "utf8");
  const { minimumCompressionSize } = api;
  if (minimumCompressionSize !== undefined && headers["content-encoding"] === undefined && acceptsGzip(request) && body.length >= minimumCompressionSize) {
    body = gzipSync(body);
    headers["content-encoding"] = "gzip";
  }
  return { status: result.statusCode, headers, body };
}

const DEFAULT_STATUS: Record<string, number> = { REQUEST_TOO_LARGE: 413, MISSING_AUTHENTICATION_TOKEN: 403, DEFAULT_4XX: 400, DEFAULT_5XX: 500 };

/** One of API Gateway's own answers, as the template's GatewayResponse of that type (or DEFAULT_4XX/5XX) says. */
export function gatewayReply(template: CfnTemplate, type: string, status: number | undefined, message: string): ClientReply {
  const responses = Object.values(template.Resources).filter((r) => r.Type === "AWS::ApiGateway::GatewayResponse").map((r) => r.Properties);
  const family = (status ?? DEFAULT_STATUS[type] ?? 500) >= 500 ? "DEFAULT_5XX" : "DEFAULT_4XX";
  const response = responses.find((r) => r.ResponseType === type) ?? responses.find((r) => r.ResponseType === family);
  const code = Number(response?.StatusCode ?? status ?? DEFAULT_STATUS[type] ?? 500);
  const bodyTemplate = (response?.ResponseTemplates as Record<string, string> | undefined)?.["application/json"] ?? `{"message":$context.error.messageString}`;
  const body = bodyTemplate.replaceAll("$context.error.messageString", JSON.stringify(message)).replaceAll("$context.error.message", message);
  return { status: code, headers: { "content-type": "application/json" }, body: Buffer.from(body) };
}
