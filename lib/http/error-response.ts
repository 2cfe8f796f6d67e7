/**
 * Where a failure becomes an answer: the one table of status codes for the domain's errors (lib/errors.ts)
 * and for the few that only exist at the HTTP edge (defined here), and the middleware that turns every
 * failure into `{"detail": ...}`. Only these errors, and middy's own ones marked safe, show their detail;
 * anything else is a 500 "Internal error" whose cause goes to the log, not the response.
 */
import { inspect } from "node:util";
import {
  BrokenStateError,
  BusyError,
  ConflictError,
  InvalidError,
  MalformedError,
  NotFoundError,
  RefusedUpstreamError,
  TooLargeError,
  UpstreamError,
  UpstreamTimedOutError,
  type Detail,
} from "../errors";
import { redactSecrets } from "../redact";
import type { Secret } from "../secret";
import { jsonResponse, type ApiMiddleware } from "./types";

/** A failure of the HTTP request itself, before any domain code runs; its detail is safe to show. */
export abstract class RequestError extends Error {
  readonly detail: string;

  constructor(detail: string, options?: ErrorOptions) {
    super(detail, options);
    this.detail = detail;
    this.name = new.target.name;
  }
}

/** The request cannot be read: a body that is not JSON, a broken multipart form, bad percent-encoding. */
export class BadRequestError extends RequestError {}

/** No API key, or the wrong one. */
export class UnauthorizedError extends RequestError {}

type Shown = abstract new (...args: never[]) => Error & { readonly detail: Detail };

/** Each error a client may be told about, and its status. A subclass answers as its parent does. */
export const ERROR_STATUS: ReadonlyArray<readonly [Shown, number]> = [
  [BadRequestError, 400],
  [MalformedError, 400],
  [UnauthorizedError, 401],
  [NotFoundError, 404],
  [ConflictError, 409],
  [TooLargeError, 413],
  [InvalidError, 422],
  [BrokenStateError, 500],
  [BusyError, 503],
  // another service's answer, never 401: that is this API's own "wrong key", which clients act on
  [RefusedUpstreamError, 403],
  [UpstreamTimedOutError, 504],
  [UpstreamError, 502],
];

/** The status and detail a client is told for `error`, or undefined when it is not meant for a client. */
export function shownError(error: unknown): { status: number; detail: Detail } | undefined {
  const found = ERROR_STATUS.find(([type]) => error instanceof type);
  return found && { status: found[1], detail: (error as InstanceType<Shown>).detail };
}

/** The status a client gets for `error`: 500 for anything the table does not know. */
export const statusOf = (error: unknown): number => shownError(error)?.status ?? 500;

// Errors made by middy's own middlewares (createError from @middy/util) carry these fields.
interface ExposedError {
  statusCode: number;
  expose: boolean;
  message: string;
}

const isExposed = (error: unknown): error is ExposedError => {
  const e = error as Partial<ExposedError> | null;
  return typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500 && e.expose === true;
};

/**
 * Turns every failure into `{"detail": ...}` with its status. `secrets` are the credentials its log lines
 * must not show (the handler's configured ones).
 */
export const errorResponse = ({ secrets = () => [] }: { secrets?: () => readonly Secret[] } = {}): ApiMiddleware => {
  const onError: ApiMiddleware["onError"] = (request) => {
    const { error } = request;
    const shown = shownError(error);
    if (shown) {
      if (shown.status >= 500) console.error(redactSecrets(`${shown.status}: ${(error as Error).message}`, secrets()));
      request.response = jsonResponse(shown.status, { detail: shown.detail });
    } else if (isExposed(error)) {
      request.response = jsonResponse(error.statusCode, { detail: error.message });
    } else {
      console.error(`Internal error: ${redactSecrets(inspect(error), secrets())}`);
      request.response = jsonResponse(500, { detail: "Internal error" });
    }
  };
  return { onError };
};
