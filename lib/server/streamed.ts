import type { IncomingMessage, ServerResponse } from "node:http";
import { Writable } from "node:stream";
import type { Context } from "aws-lambda";
import { redactSecrets } from "../redact";
import type { Secret } from "../secret";

/**
 * serverless-offline cannot run a streamed handler (it calls it with a callback; middy fails with a
 * 502), so `npm start` runs those routes itself: it gives the handler what the Lambda runtime gives it,
 * `awslambda.streamifyResponse` and `awslambda.HttpResponseStream.from`, over a real HTTP response.
 */
interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
}

type StreamedHandler = (event: unknown, stream: Writable, context: Context) => Promise<void>;

/** A Writable over the HTTP response that sends status and headers before the first byte. */
class ResponseStream extends Writable {
  readonly #res: ServerResponse;
  #prelude: Prelude = {};

  constructor(res: ServerResponse) {
    super();
    this.#res = res;
  }

  setPrelude(prelude: Prelude): void {
    this.#prelude = prelude;
  }

  #head(): void {
    if (!this.#res.headersSent) this.#res.writeHead(this.#prelude.statusCode ?? 200, this.#prelude.headers ?? {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.#head();
    if (this.#res.write(chunk)) done();
    else this.#res.once("drain", () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#head();
    this.#res.end(() => done());
  }
}

/** Installs the runtime's `awslambda` global; must run before a streamed handler module is loaded. */
export function installLambdaStreaming(): void {
  (globalThis as { awslambda?: unknown }).awslambda = {
    streamifyResponse: (handler: StreamedHandler) => handler,
    HttpResponseStream: {
      from(stream: ResponseStream, prelude: Prelude) {
        stream.setPrelude(prelude);
        return stream;
      },
    },
  };
}

const MAX_STREAM_MS = 15 * 60_000;

/** The API Gateway REST event of a request, as API Gateway would hand it over (path parameters left out). */
function restEvent(req: IncomingMessage) {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(",");
    multiValueHeaders[name] = values;
  }
  const query = Object.fromEntries(url.searchParams);
  return {
    httpMethod: req.method ?? "GET",
    path: url.pathname,
    resource: url.pathname,
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { httpMethod: req.method ?? "GET", path: url.pathname, stage: "local", requestId: `${Date.now()}` },
  };
}

/** Runs a streamed handler for one request; a client that hangs up ends the handler's stream. `secrets` never reach the log. */
export async function serveStreamed(handler: StreamedHandler, req: IncomingMessage, res: ServerResponse, secrets: readonly Secret[]): Promise<void> {
  const stream = new ResponseStream(res);
  const started = Date.now();
  res.once("close", () => {
    if (!res.writableFinished) stream.destroy();
  });
  const context = {
    awsRequestId: `${started}`,
    functionName: "local-stream",
    getRemainingTimeInMillis: () => MAX_STREAM_MS - (Date.now() - started),
  } as Context;
  try {
    await handler(restEvent(req), stream, context);
  } catch (error) {
    // a client that went away mid-stream is the normal end of SSE, not a failure
    if (!res.destroyed) {
      console.error(redactSecrets(`streamed ${req.url}: ${(error as Error).message}`, secrets));
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ detail: "Internal error" }));
    }
  }
}
