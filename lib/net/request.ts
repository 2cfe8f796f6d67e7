/**
 * One HTTP request of the sidecar's (downloads and metadata), made only to an address the policy allows
 * (lib/net/address-policy.ts). It follows no redirect: the callers follow them by hand, so that each hop is
 * checked here again and credentials stay with their own host.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import https from "node:https";
import { checkDestination, mayReachAnyAddress, publicOnlyLookup, type AddressPolicy } from "./address-policy";

const keepAlive = { keepAlive: true, maxSockets: 64 };
// Connections to hosts that are checked get the filtering lookup; the others (the operator's own upstreams,
// or every host with ALLOW_PRIVATE_URLS) the ordinary one. Kept apart, so that a connection opened without
// the check is never reused for a request that needs it.
const agents = {
  checked: {
    http: new http.Agent({ ...keepAlive, lookup: publicOnlyLookup() }),
    https: new https.Agent({ ...keepAlive, lookup: publicOnlyLookup() }),
  },
  open: { http: new http.Agent(keepAlive), https: new https.Agent(keepAlive) },
};

export interface SendOptions {
  readonly method?: string;
  readonly headers: OutgoingHttpHeaders;
  readonly signal: AbortSignal;
  readonly policy: AddressPolicy;
  /** Without response headers for this long, the request fails with NoAnswerError. */
  readonly headersTimeoutMs?: number;
  /** Sent as the request's body (a POST's JSON), with its Content-Length. */
  readonly body?: Buffer | undefined;
}

export class NoAnswerError extends Error {
  readonly code = "ERR_NO_ANSWER";
}

// Kept-alive connections the server may have closed meanwhile that one request tries before a new one.
const REUSED_TRIES = 4;

/** Sends the request and resolves with the response as it starts (status and headers; the body unread). */
export function send(url: URL, options: SendOptions, reusedTries = REUSED_TRIES): Promise<IncomingMessage> {
  try {
    checkDestination(url, options.policy);
  } catch (error) {
    return Promise.reject(error);
  }
  const secure = url.protocol === "https:";
  const pool = mayReachAnyAddress(url, options.policy) ? agents.open : agents.checked;
  const agent = secure ? pool.https : pool.http;
  const { method = "GET", signal, headersTimeoutMs, body } = options;
  const headers = body === undefined ? options.headers : { ...options.headers, "content-length": body.length };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = (secure ? https : http).request(url, { method, headers, signal, agent }, resolve);
    if (headersTimeoutMs !== undefined) {
      req.setTimeout(headersTimeoutMs, () =>
        req.destroy(new NoAnswerError(`No answer from ${url.host} within ${headersTimeoutMs / 1000} s`)),
      );
    }
    req.once("response", () => {
      answered = true;
      req.setTimeout(0);
    });
    req.once("error", (error: NodeJS.ErrnoException) => {
      // An idle kept-alive connection that the server closed just as it was reused: the server never saw
      // the request. Sent again at once, as Node's docs advise, rather than after a retry's back-off.
      const closedIdle = req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE");
      if (closedIdle && !answered && !signal.aborted && reusedTries > 1) resolve(send(url, options, reusedTries - 1));
      else reject(error);
    });
    req.end(body);
  });
}
