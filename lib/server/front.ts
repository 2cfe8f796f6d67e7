import http from "node:http";
import { MAX_BODY_BYTES } from "../http/body";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed } from "../http/cors";
import { redactSecrets } from "../redact";
import { compressedBody, refuseOutsideRoutes, refuseTooLarge, send, upstreamErrorDetail } from "./refusals";

/**
 * The service's front door under `npm start`: it listens on $PORT and hands each request to
 * serverless-offline on a loopback port. It answers itself what must look the same as in the cloud
 * but that serverless-offline gets wrong: CORS preflight (it approves any origin), bodies over 10 MB
 * and unknown routes (its errors are not {"detail": ...}), and what Node's HTTP server refuses before any
 * handler runs (a request it cannot parse, headers over 16 KB, no Host, an odd Expect, CONNECT).
 */
export interface FrontOptions {
  readonly upstreamPort: number;
  readonly corsOrigins: readonly string[];
  /** Routes answered here by a streamed handler ("GET /path" keys), since serverless-offline cannot stream. */
  readonly streamed?: Readonly<Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>>>;
}

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

/**
 * The route a request names as serverless-offline (hapi) matches it: the method in capitals, unreserved
 * characters decoded, dot segments resolved, no trailing slash, an absolute-form target reduced to its
 * path. A streamed route that hapi would match but this did not would reach serverless-offline, which
 * cannot stream (a 502).
 */
export function routeKey(method: string | undefined, url: string | undefined): string {
  // hapi decodes what never needed encoding (`%73tatus` is `status`), as RFC 3986 allows
  const target = (url ?? "/").replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : escape;
  });
  let pathname: string;
  try {
    // prefixed, so that `//x/y` stays a path and is not read as the host `x`
    pathname = new URL(target.startsWith("/") ? `http://localhost${target}` : target).pathname;
  } catch {
    pathname = target.replace(/[?#].*$/s, "");
  }
  return `${(method ?? "GET").toUpperCase()} ${pathname.replace(/(.)\/+$/, "$1")}`;
}

// Hop-by-hop headers (RFC 9110 7.6.1) are the client's connection's business, not the upstream one's.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

/**
 * The request's headers for serverless-offline, less the hop-by-hop ones and a byte range: hapi would
 * answer a range with a 206 of a few bytes of the JSON, or a 416, where API Gateway (and every client of
 * this API) wants the whole answer.
 */
function forwardedHeaders(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const named = String(headers.connection ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase());
  const forwarded: http.IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !named.includes(name) && name !== "range" && name !== "if-range") forwarded[name] = value;
  }
  return forwarded;
}

const UPSTREAM_CONCURRENCY = 16;

export function createFront({ upstreamPort, corsOrigins, streamed = {} }: FrontOptions): http.Server {
  // serverless-offline starts one worker thread per request in flight: 200 at once on two cores starve
  // each other, and their lock waits run out (503). Past this many, requests wait here, in order.
  // A connection is handed on only to a request already waiting for one, never kept idle: hapi closes an
  // idle connection after 6 s, and a request written onto it at that moment was reset (a 503 for one
  // request in ten of a burst that came 6 s after the last one). A new loopback connection costs ~0.1 ms.
  const agent = new http.Agent({ keepAlive: false, maxSockets: UPSTREAM_CONCURRENCY });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.headers.host === undefined && req.httpVersion === "1.1") {
      req.resume();
      send(res, 400, "Bad Request: missing Host header", { connection: "close" });
      return;
    }
    if (req.method === "OPTIONS") {
      req.resume();
      preflight(req, res, corsOrigins);
      return;
    }
    const cors = withCors({}, req.headers.origin, corsOrigins);
    const route = streamed[routeKey(req.method === "HEAD" ? "GET" : req.method, req.url)];
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
    if (compressedBody(req.headers, length)) {
      req.resume();
      const encoding = String(req.headers["content-encoding"]).slice(0, 100);
      send(res, 415, `Content-Encoding '${encoding}' is not supported: send the body uncompressed`, { ...cors, connection: "close" });
      return;
    }
    if (length > MAX_BODY_BYTES) {
      refuseTooLarge(req, res, cors, 0);
      return;
    }
    const upstream = http.request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: forwardedHeaders(req.headers), agent },
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
        refuseTooLarge(req, res, cors, received);
      }
    });
    upstream.on("error", () => {
      if (tooLarge) return;
      if (!res.headersSent) send(res, 503, "The API is starting or restarting; try again in a few seconds", cors);
      else res.destroy();
    });
    req.on("aborted", () => upstream.destroy());
    // A client gone before its answer is whole frees the upstream connection at once: a response left
    // half read holds one of the agent's sockets for good, and once all are held every request waits.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  // a request without Host reaches the handler, so that its 400 is {"detail"} too
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      // one odd request must never take the whole service down with it
      console.error(redactSecrets(`front door: ${req.method} ${(req.url ?? "").slice(0, 200)}: ${(error as Error).message}`));
      req.resume();
      if (!res.headersSent) send(res, 500, "Internal error", { connection: "close" });
      else res.destroy();
    }
  });
  // Idle connections outlive the clients' own idle timeouts (browsers, undici, load balancers: 4-60 s),
  // so a client never sends a request on a connection this server is closing at that moment.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  refuseOutsideRoutes(server);
  return server;
}
