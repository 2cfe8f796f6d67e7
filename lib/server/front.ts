import http from "node:http";
import { MAX_BODY_BYTES } from "../http/body";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed } from "../http/cors";

/**
 * The service's front door under `npm start`: it listens on $PORT and hands each request to
 * serverless-offline on a loopback port. It answers itself what must look the same as in the cloud
 * but that serverless-offline gets wrong: CORS preflight (it approves any origin), bodies over 10 MB
 * and unknown routes (its errors are not {"detail": ...}).
 */
export interface FrontOptions {
  readonly upstreamPort: number;
  readonly corsOrigins: readonly string[];
  /** Routes answered here by a streamed handler ("GET /path" keys), since serverless-offline cannot stream. */
  readonly streamed?: Readonly<Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>>>;
}

const send = (res: http.ServerResponse, status: number, detail: string, headers: http.OutgoingHttpHeaders = {}) => {
  const body = JSON.stringify({ detail });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
};

/**
 * serverless-offline puts its own CORS headers on every response of a CORS-enabled route, for any
 * origin; API Gateway passes the function's. Keep the answer the same: drop its headers, set ours.
 */
function withCors(upstream: http.IncomingHttpHeaders, origin: string | undefined, corsOrigins: readonly string[]) {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (!name.startsWith("access-control-") && name !== "vary") headers[name] = value;
  }
  for (const [name, value] of Object.entries(corsHeaders(origin, corsOrigins))) headers[name.toLowerCase()] = value;
  return headers;
}

function preflight(req: http.IncomingMessage, res: http.ServerResponse, corsOrigins: readonly string[]): void {
  const origin = req.headers.origin;
  if (origin === undefined || !originAllowed(origin, corsOrigins)) {
    send(res, 403, "CORS: origin not allowed", { vary: "Origin" });
    return;
  }
  res.writeHead(204, {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": "GET,POST,DELETE,OPTIONS",
    "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(","),
    "access-control-max-age": "600",
    vary: "Origin",
  });
  res.end();
}

/** Rewrites serverless-offline's own error bodies into the API's {"detail": ...} shape. */
function upstreamErrorDetail(status: number, body: Buffer): string | undefined {
  let parsed: { detail?: unknown; message?: unknown; error?: unknown };
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return status >= 500 ? "Internal error" : undefined;
  }
  if (parsed.detail !== undefined) return undefined;
  if (status === 404) return "Not Found";
  if (status === 413) return "Request body is larger than 10 MB";
  if (status >= 500) return "Internal error";
  return typeof parsed.message === "string" ? parsed.message : typeof parsed.error === "string" ? parsed.error : undefined;
}

export function createFront({ upstreamPort, corsOrigins, streamed = {} }: FrontOptions): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    if (req.method === "OPTIONS") {
      req.resume();
      preflight(req, res, corsOrigins);
      return;
    }
    const cors = withCors({}, req.headers.origin, corsOrigins);
    // a trailing slash names the same route, as it does for serverless-offline's
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname.replace(/(.)\/+$/, "$1");
    const route = streamed[`${req.method === "HEAD" ? "GET" : req.method} ${pathname}`];
    if (route && req.method === "HEAD") {
      req.resume();
      send(res, 405, "Method Not Allowed: use GET for an event stream", { ...cors, allow: "GET" });
      return;
    }
    if (route) {
      void route(req, res);
      return;
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > MAX_BODY_BYTES) {
      // Read the body to its end rather than hang up: most clients only read the answer once they
      // have sent everything, and a reset would leave them with EPIPE instead of this 413.
      req.resume();
      send(res, 413, "Request body is larger than 10 MB", cors);
      return;
    }
    const upstream = http.request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        const status = up.statusCode ?? 502;
        const headers = withCors(up.headers, req.headers.origin, corsOrigins);
        if (status < 400) {
          res.writeHead(status, headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on("data", (chunk: Buffer) => chunks.push(chunk));
        up.on("end", () => {
          const body = Buffer.concat(chunks);
          const detail = upstreamErrorDetail(status, body);
          if (detail === undefined) {
            res.writeHead(status, headers);
            res.end(body);
          } else {
            send(res, status, detail, cors);
          }
        });
      },
    );
    // a body without a length (chunked) is counted on its way through
    let received = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_BODY_BYTES && !tooLarge) {
        tooLarge = true;
        req.unpipe(upstream);
        upstream.destroy();
        if (!res.headersSent) send(res, 413, "Request body is larger than 10 MB", cors);
      }
    });
    upstream.on("error", () => {
      if (tooLarge) return;
      if (!res.headersSent) send(res, 503, "The API is starting or restarting; try again in a few seconds", cors);
      else res.destroy();
    });
    req.on("aborted", () => upstream.destroy());
    req.pipe(upstream);
  });
  // Idle connections outlive the clients' own idle timeouts (browsers, undici, load balancers: 4-60 s),
  // so a client never sends a request on a connection this server is closing at that moment.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
