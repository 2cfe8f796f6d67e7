/**
 * serverless-offline cannot run a streamed handler (it calls it with a callback; middy fails with a
 * 502), so `npm start` runs those routes itself: it gives the handler what the Lambda runtime gives it,
 * `awslambda.streamifyResponse` and `awslambda.HttpResponseStream.from`, over the HTTP response itself.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Context } from "aws-lambda";
import { redactSecrets } from "../redact";
import type { Secret } from "../secret";

type StreamedHandler = (event: unknown, stream: ServerResponse, context: Context) => Promise<void>;

/**
 * Installs the runtime's `awslambda` global; must run before a streamed handler module is loaded. middy
 * calls `from` once it knows the status and headers, and then pipes the body into what it returns.
 */
export function installLambdaStreaming(): void {
  (globalThis as { awslambda?: unknown }).awslambda = {
    streamifyResponse: (handler: StreamedHandler) => handler,
    HttpResponseStream: {
      from: (res: ServerResponse, prelude: { statusCode?: number; headers?: OutgoingHttpHeaders }) =>
        res.writeHead(prelude.statusCode ?? 200, prelude.headers ?? {}),
    },
  };
}

const MAX_STREAM_MS = 15 * 60_000;

/** The API Gateway REST event of a request, as API Gateway would hand it over (what the handler reads). */
function restEvent(req: IncomingMessage, started: number) {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const query = Object.fromEntries(url.searchParams);
  return {
    httpMethod: req.method ?? "GET",
    path: url.pathname,
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    pathParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { httpMethod: req.method ?? "GET", path: url.pathname, stage: "local", requestId: `${started}` },
  };
}

/** Runs a streamed handler for one request; a client that hangs up ends the handler's stream. `secrets` never reach the log. */
export async function serveStreamed(handler: StreamedHandler, req: IncomingMessage, res: ServerResponse, secrets: readonly Secret[]): Promise<void> {
  const started = Date.now();
  const context = {
    awsRequestId: `${started}`,
    functionName: "local-stream",
    getRemainingTimeInMillis: () => MAX_STREAM_MS - (Date.now() - started),
  } as Context;
  try {
    await handler(restEvent(req, started), res, context);
  } catch (error) {
    // a client that went away mid-stream is the normal end of SSE, not a failure
    if (res.destroyed) return;
    console.error(redactSecrets(`streamed ${req.url}: ${(error as Error).message}`, secrets));
    if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ detail: "Internal error" }));
  }
}
