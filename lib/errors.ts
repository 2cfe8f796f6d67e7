/**
 * Errors a person can act on. Code throws these; the error middleware (lib/http) turns them into
 * `{"detail": ...}` responses. Only HttpError details reach a client: anything else is a 500
 * "Internal error" with the real cause in the log.
 */
export type Detail = string | readonly ValidationIssue[];

/** One problem with a request, in the shape FastAPI clients of the Models API already parse. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class HttpError extends Error {
  readonly statusCode: number = 500;
  readonly detail: Detail;

  constructor(detail: Detail, options?: ErrorOptions) {
    super(typeof detail === "string" ? detail : "Validation error", options);
    this.detail = detail;
    this.name = new.target.name;
  }
}

export class BadRequestError extends HttpError {
  override readonly statusCode = 400;
}

export class UnauthorizedError extends HttpError {
  override readonly statusCode = 401;
}

export class NotFoundError extends HttpError {
  override readonly statusCode = 404;
}

export class ConflictError extends HttpError {
  override readonly statusCode = 409;
}

export class PayloadTooLargeError extends HttpError {
  override readonly statusCode = 413;
}

export class UnprocessableError extends HttpError {
  override readonly statusCode = 422;
}

export class ServiceUnavailableError extends HttpError {
  override readonly statusCode = 503;
}

/** A 500 whose detail is safe and useful to show, e.g. a catalog file that does not parse. */
export class ServerStateError extends HttpError {
  override readonly statusCode = 500;
}

export const modelNotFound = (file: string): NotFoundError =>
  new NotFoundError(`Model '${file}' not found in catalog`);
