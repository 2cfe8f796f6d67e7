/**
 * The service's front door under `npm start`: it listens on $PORT and hands each request to
 * serverless-offline, which runs the handlers in its own process, over a Unix socket. It does only what
 * serverless-offline cannot:
 * - run the streamed route (streamed.ts);
 * - let at most 16 requests into serverless-offline at once: past that, they contend for the catalog's
 *   lock, which has no queue, and the last ones' waits run out. So a slot must never wait on a client,
 *   and the door refuses before any handler runs, in the API's {"detail"} shape: a request without the
 *   key, at once and without waiting for its body (the handlers check the key again, as in the cloud); a
 *   body over 10 MB or late (it is read whole here first: buffered-body.ts); request lines and headers
 *   that take over 10 s; a compressed body; what Node's HTTP server refuses itself (refusals.ts);
 * - answer as API Gateway does where serverless-offline does not: CORS (it approves any origin, in its
 *   preflight too), and its own errors (an unknown route, a crashed handler), which are not {"detail"}.
 */
import http from "node:http";
import { keyMatches } from "../http/auth";
import { MAX_BODY_BYTES } from "../http/body";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed } from "../http/cors";
import { redactSecrets } from "../redact";
import type { Secret } from "../secret";
import { bufferBody, DOOR_LIMITS, longestRequestMs, TOO_LARGE, type DoorLimits } from "./buffered-body";
import { refuseAndClose, refuseOutsideRoutes, send, upstreamErrorDetail } from "./refusals";

export type StreamedRoute = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface FrontOptions {
  /** serverless-offline's HTTP listener: a Unix socket, so that no port has to be picked for it. */
  readonly upstreamSocket: string;
  readonly corsOrigins: readonly string[];
  /** The API key, fixed for the life of the process ($API_KEY or $STUDIO_DIR/api-key). */
  readonly apiKey: Secret;
  /** Credentials its log lines must not show; the API key by default. */
  readonly secrets?: readonly Secret[];
  /** Routes answered here by a streamed handler ("GET /path" keys). */
  readonly streamed?: Readonly<Record<string, StreamedRoute>>;
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
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.includes(name) && !drop.includes(name)));
}

/**
 * An answer's headers for the client: serverless-offline's CORS headers (for any origin) replaced by the
 * handlers' own rule, and its hop-by-hop ones dropped (its `Keep-Alive: timeout=5` told every client
 * that this server drops an idle connection after 5 s; it keeps one 65 s).
 */
function withCors(upstream: http.IncomingHttpHeaders, origin: string | undefined, corsOrigins: readonly string[]) {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(endToEnd(upstream))) {
    if (!name.startsWith("access-control-") && name !== "vary") headers[name] = value;
  }
  for (const [name, value] of Object.entries(corsHeaders(origin, corsOrigins))) headers[name.toLowerCase()] = value;
  return headers;
}

/** A CORS preflight, answered as API Gateway's mock integration does: 403 for an origin not on the list. */
function preflight(req: http.IncomingMessage, res: http.ServerResponse, corsOrigins: readonly string[]): void {
  const origin = req.headers.origin;
  if (origin === undefined || !originAllowed(origin, corsOrigins)) return send(res, 403, "CORS: origin not allowed", { vary: "Origin" });
  res.writeHead(204, {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": "GET,POST,PUT,DELETE,OPTIONS",
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

const UPSTREAM_CONCURRENCY = 16;

/** The routes of serverless.yml that take no key: the admin page, which holds no data. */
const OPEN_ROUTES = new Set(["GET /admin"]);
const UNAUTHORIZED = "Invalid or missing API key";

const hasBody = (headers: http.IncomingHttpHeaders): boolean =>
  Number(headers["content-length"] ?? 0) > 0 || headers["transfer-encoding"] !== undefined;

/** A body sent compressed: serverless-offline would hand the handler its bytes as they are (a 400 "Invalid JSON"). */
const compressed = (headers: http.IncomingHttpHeaders): boolean =>
  hasBody(headers) && headers["content-encoding"] !== undefined && !/^\s*(identity)?\s*$/i.test(headers["content-encoding"]);

/** The route `req` names, a HEAD as the GET it mirrors. */
const routeOf = (req: http.IncomingMessage): string => routeKey(req.method === "HEAD" ? "GET" : req.method, req.url);

/**
 * Whether the door refuses `req`, which names `route`, for its key, as the handler would (lib/http/auth.ts):
 * every route but the open ones, a preflight and the streamed ones (whose handler runs here and checks it
 * itself). Duplicate headers arrive joined ("k, k"), so a key sent twice matches no more here than there.
 */
function refusedForKey(req: http.IncomingMessage, route: string, apiKey: Secret, streamed: object): boolean {
  if (req.method === "OPTIONS" || OPEN_ROUTES.has(route) || Object.hasOwn(streamed, route)) return false;
  const given = req.headers["x-api-key"];
  return !keyMatches(typeof given === "string" ? given : undefined, apiKey);
}

export function createFront({ upstreamSocket, corsOrigins, apiKey, secrets = [apiKey], streamed = {}, limits: given = {} }: FrontOptions): http.Server {
  const limits: DoorLimits = { ...DOOR_LIMITS, ...given };
  const budget = { free: limits.bufferedBytes };
  // Past 16 requests in serverless-offline, the rest wait here, in order (200 mutations let in at once:
  // 15 of them got a 503 when their wait for the lock ran out). A connection is never kept idle: hapi
  // closes one after 6 s, and a request written onto it at that moment was reset (a 503).
  const agent = new http.Agent({ keepAlive: false, maxSockets: UPSTREAM_CONCURRENCY });

  /** Hands a request, its body whole, to serverless-offline: from here until its answer it holds a slot. */
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, cors: http.OutgoingHttpHeaders, body?: Buffer): void => {
    // less an Expect (answered here) and a byte range: hapi would answer a range with a 206 of a few bytes
    // of the JSON, or a 416, where API Gateway (and every client of this API) wants the whole answer
    const headers = endToEnd(req.headers, ["range", "if-range", "expect", ...(body ? ["transfer-encoding"] : [])]);
    if (body !== undefined) headers["content-length"] = String(body.length);
    const options = { socketPath: upstreamSocket, method: req.method, path: req.url, headers, agent };
    const upstream = http.request(options, (up) => {
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
        if (detail !== undefined) send(res, status, detail, cors);
        else res.writeHead(status, answerHeaders).end(text);
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
      return send(res, 400, "Bad Request: missing Host header", { connection: "close" });
    }
    if (req.method === "OPTIONS") {
      req.resume();
      return preflight(req, res, corsOrigins);
    }
    const cors = withCors({}, req.headers.origin, corsOrigins);
    const route = routeOf(req);
    const serve = Object.hasOwn(streamed, route) ? streamed[route] : undefined;
    if (serve && req.method === "HEAD") {
      req.resume();
      return send(res, 405, "Method Not Allowed: use GET for an event stream", { ...cors, allow: "GET" });
    }
    if (serve) return void serve(req, res);
    if (refusedForKey(req, route, apiKey, streamed)) {
      // the same answer as the handler's; a body still coming is not waited for
      if (hasBody(req.headers)) return refuseAndClose(req, res, 401, UNAUTHORIZED, cors, limits.lingerMs);
      return send(res, 401, UNAUTHORIZED, cors);
    }
    if (compressed(req.headers)) {
      req.resume();
      const encoding = String(req.headers["content-encoding"]).slice(0, 100);
      return send(res, 415, `Content-Encoding '${encoding}' is not supported: send the body uncompressed`, { ...cors, connection: "close" });
    }
    // the rest of a body too large is read (and dropped) for as long as a whole one may take, then closed
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return refuseAndClose(req, res, 413, TOO_LARGE, cors, limits.bodyMs);
    if (!hasBody(req.headers)) return forward(req, res, cors);
    bufferBody(req, res, { limits, budget, headers: cors }, (body) => forward(req, res, cors, body));
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
  // An idle connection outlives the clients' own idle timeouts (browsers, undici, load balancers: 4-60 s),
  // so a client never sends a request on a connection this server is closing at that moment. Since Node
  // 18 headersTimeout counts from a request's first byte, not across the idle time between two requests.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = limits.headersMs;
  // a backstop for whatever reads a body without bufferBody's deadline: the longest an honest one takes
  server.requestTimeout = longestRequestMs(limits);
  refuseOutsideRoutes(server);
  return server;
}
