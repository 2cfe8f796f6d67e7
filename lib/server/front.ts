import http from "node:http";
import { keyMatches } from "../http/auth";
import { MAX_BODY_BYTES } from "../http/body";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed } from "../http/cors";
import { redactSecrets } from "../redact";
import type { Secret } from "../secret";
import { bufferBody, ByteBudget, DOOR_LIMITS, longestRequestMs, type DoorLimits } from "./buffered-body";
import { compressedBody, refuseAndClose, refuseOutsideRoutes, refuseTooLarge, send, upstreamErrorDetail } from "./refusals";

/**
 * The service's front door under `npm start`: it listens on $PORT and hands each request to
 * serverless-offline on a loopback port. It answers itself what must look the same as in the cloud
 * but that serverless-offline gets wrong: CORS preflight (it approves any origin), bodies over 10 MB
 * and unknown routes (its errors are not {"detail": ...}), and what Node's HTTP server refuses before any
 * handler runs (a request it cannot parse, headers over 16 KB, no Host, an odd Expect, CONNECT).
 *
 * At most 16 requests are in serverless-offline at once (its slots), so a slot must never wait on a
 * client. Hence:
 * - the key is checked here, before anything else is read (the handlers check it again, as in the
 *   cloud): a request without it is answered 401 at once and never takes a slot, nor any memory;
 * - a body is read whole here before its request takes a slot (buffered-body.ts): a slow client holds
 *   a socket and its own bytes, never a slot. It has 15 s, more for a large body that keeps coming at
 *   32 KB/s, then it is answered 408 and its connection closed. Bodies held at once are capped (64 MB);
 * - the request line and headers must arrive within 10 s (Node's headersTimeout, checked every second),
 *   while a keep-alive connection may sit idle between requests for 65 s.
 * So a slot is only ever held while serverless-offline works, and a keyed GET waits for no trickler.
 */
export interface FrontOptions {
  readonly upstreamPort: number;
  readonly corsOrigins: readonly string[];
  /** The API key, fixed for the life of the process ($API_KEY or $STUDIO_DIR/api-key). */
  readonly apiKey: Secret;
  /** Credentials its log lines must not show; the API key by default. */
  readonly secrets?: readonly Secret[];
  /** Routes answered here by a streamed handler ("GET /path" keys), since serverless-offline cannot stream. */
  readonly streamed?: Readonly<Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>>>;
  /** Deadlines and caps other than DOOR_LIMITS' (tests). */
  readonly limits?: Partial<DoorLimits>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection: the client's or the upstream one.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);

/** `headers` less the hop-by-hop ones, those their Connection names, and `drop`. */
function endToEnd(headers: http.IncomingHttpHeaders, drop: readonly string[] = []): http.IncomingHttpHeaders {
  const named = String(headers.connection ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase());
  const kept: http.IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !named.includes(name) && !drop.includes(name)) kept[name] = value;
  }
  return kept;
}

/**
 * serverless-offline puts its own CORS headers on every response of a CORS-enabled route, for any
 * origin; API Gateway passes the function's. Keep the answer the same: drop its headers, set ours. Its
 * hop-by-hop ones speak of the upstream connection: passed on, `Keep-Alive: timeout=5` told every client
 * that this server drops an idle connection after 5 s (it keeps it 65 s).
 */
function withCors(upstream: http.IncomingHttpHeaders, origin: string | undefined, corsOrigins: readonly string[]) {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(endToEnd(upstream))) {
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

/**
 * The request's headers for serverless-offline, less an Expect (answered here) and a byte range: hapi
 * would answer a range with a 206 of a few bytes of the JSON, or a 416, where API Gateway (and every
 * client of this API) wants the whole answer.
 */
const forwardedHeaders = (headers: http.IncomingHttpHeaders) => endToEnd(headers, ["range", "if-range", "expect"]);

const UPSTREAM_CONCURRENCY = 16;

/** The routes of serverless.yml that take no key: the admin page, which holds no data. */
const OPEN_ROUTES = new Set(["GET /admin"]);

const UNAUTHORIZED = "Invalid or missing API key";

const hasBody = (headers: http.IncomingHttpHeaders): boolean =>
  Number(headers["content-length"] ?? 0) > 0 || headers["transfer-encoding"] !== undefined;

type Streamed = NonNullable<FrontOptions["streamed"]>;

/** The route `req` names, a HEAD as the GET it mirrors. */
const routeOf = (req: http.IncomingMessage): string => routeKey(req.method === "HEAD" ? "GET" : req.method, req.url);

/**
 * Whether the door refuses `req`, which names `route`, for its key, as the handler would (lib/http/auth.ts):
 * every route but the open ones, a preflight and the streamed ones (whose handler runs here and checks it
 * itself). Duplicate headers arrive joined ("k, k"), so a key sent twice matches no more here than there.
 */
function refusedForKey(req: http.IncomingMessage, route: string, apiKey: Secret, streamed: Streamed): boolean {
  if (req.method === "OPTIONS") return false;
  if (OPEN_ROUTES.has(route) || Object.hasOwn(streamed, route)) return false;
  const given = req.headers["x-api-key"];
  return !keyMatches(typeof given === "string" ? given : undefined, apiKey);
}

export function createFront({ upstreamPort, corsOrigins, apiKey, secrets = [apiKey], streamed = {}, limits: given = {} }: FrontOptions): http.Server {
  const limits: DoorLimits = { ...DOOR_LIMITS, ...given };
  const budget = new ByteBudget(limits.bufferedBytes);
  // serverless-offline starts one worker thread per request in flight: 200 at once on two cores starve
  // each other, and their lock waits run out (503). Past this many, requests wait here, in order.
  // A connection is handed on only to a request already waiting for one, never kept idle: hapi closes an
  // idle connection after 6 s, and a request written onto it at that moment was reset (a 503 for one
  // request in ten of a burst that came 6 s after the last one). A new loopback connection costs ~0.1 ms.
  const agent = new http.Agent({ keepAlive: false, maxSockets: UPSTREAM_CONCURRENCY });

  /** Hands a request, its body whole, to serverless-offline: from here until its answer it holds a slot. */
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, cors: http.OutgoingHttpHeaders, body?: Buffer): void => {
    const headers = forwardedHeaders(req.headers);
    if (body !== undefined) {
      delete headers["transfer-encoding"];
      headers["content-length"] = String(body.length);
    }
    const upstream = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers, agent }, (up) => {
      const status = up.statusCode ?? 502;
      const answerHeaders = withCors(up.headers, req.headers.origin, corsOrigins);
      if (status < 400) {
        res.writeHead(status, answerHeaders);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on("data", (chunk: Buffer) => chunks.push(chunk));
      up.on("end", () => {
        const text = Buffer.concat(chunks);
        const detail = upstreamErrorDetail(status, text);
        if (detail === undefined) {
          res.writeHead(status, answerHeaders);
          res.end(text);
        } else {
          send(res, status, detail, cors);
        }
      });
    });
    upstream.on("error", () => {
      if (!res.headersSent) send(res, 503, "The API is starting or restarting; try again in a few seconds", cors);
      else res.destroy();
    });
    // A client gone before its answer is whole frees the upstream connection at once: a response left
    // half read holds one of the agent's sockets for good, and once all are held every request waits.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };

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
    const key = routeOf(req);
    const route = streamed[key];
    if (route && req.method === "HEAD") {
      req.resume();
      send(res, 405, "Method Not Allowed: use GET for an event stream", { ...cors, allow: "GET" });
      return;
    }
    if (route) {
      void route(req, res);
      return;
    }
    if (refusedForKey(req, key, apiKey, streamed)) {
      // the same answer as the handler's; a body still coming is not waited for
      if (hasBody(req.headers)) refuseAndClose(req, res, 401, UNAUTHORIZED, cors, limits.lingerMs);
      else send(res, 401, UNAUTHORIZED, cors);
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
      refuseTooLarge(req, res, cors, 0, limits.bodyMs);
      return;
    }
    if (!hasBody(req.headers)) forward(req, res, cors);
    else bufferBody(req, res, { limits, budget, headers: cors }, (body) => forward(req, res, cors, body));
  };
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    try {
      handle(req, res);
    } catch (error) {
      // one odd request must never take the whole service down with it
      console.error(redactSecrets(`front door: ${req.method} ${(req.url ?? "").slice(0, 200)}: ${(error as Error).message}`, secrets));
      req.resume();
      if (!res.headersSent) send(res, 500, "Internal error", { connection: "close" });
      else res.destroy();
    }
  };
  // A request without Host reaches the handler, so that its 400 is {"detail"} too. Deadlines are checked
  // every second (Node's default: every 30 s, which would let a 10 s one run to 40 s).
  const server = http.createServer({ requireHostHeader: false, connectionsCheckingInterval: Math.min(1_000, limits.headersMs / 2) }, dispatch);
  // Node says "100 Continue" by itself unless told otherwise: never to a client whose key is wrong
  server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!refusedForKey(req, routeOf(req), apiKey, streamed)) res.writeContinue();
    dispatch(req, res);
  });
  // Idle connections outlive the clients' own idle timeouts (browsers, undici, load balancers: 4-60 s),
  // so a client never sends a request on a connection this server is closing at that moment. Since
  // Node 18 headersTimeout counts from a request's first byte (or the connection's start), not across
  // the idle time between two requests, so it may be far shorter than keepAliveTimeout.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = limits.headersMs;
  // a backstop for whatever reads a body without bufferBody's deadline: the longest an honest one takes
  server.requestTimeout = longestRequestMs(limits);
  refuseOutsideRoutes(server);
  return server;
}
