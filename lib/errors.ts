/**
 * What can go wrong, in the words of the domain: the core (catalog, state, fs, the sidecar) throws these
 * and knows nothing of HTTP. Each carries a `detail` written for the person who asked, safe to show them.
 * lib/http/error-response.ts chooses the status code a client gets for each; anything that is not one of
 * these is a 500 "Internal error" there, with the real cause in the log only.
 */
export type Detail = string | readonly ValidationIssue[];

/** One problem with a request, in the shape FastAPI clients of the Models API already parse. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export abstract class DomainError extends Error {
  readonly detail: Detail;

  constructor(detail: Detail, options?: ErrorOptions) {
    super(typeof detail === "string" ? detail : "Validation error", options);
    this.detail = detail;
    this.name = new.target.name;
  }
}

/** What was asked for does not exist (a model the catalog does not list, a file not on disk). */
export class NotFoundError extends DomainError {}

/** The ask is fine, but the state of things does not allow it now (the file is still on disk, no clone yet). */
export class ConflictError extends DomainError {}

/** Something else holds what this needs (a file's lock, a download still stopping): try again shortly. */
export class BusyError extends DomainError {}

/** Understood, but not acceptable: a catalog or entry that breaks the schema or the limits. */
export class InvalidError extends DomainError {}

/** Not readable at all: an uploaded catalog that is not JSON. */
export class MalformedError extends DomainError {}

/** More than the limit allows (an import file over 10 MB). */
export class TooLargeError extends DomainError {}

/** CivitAI or Hugging Face refused what was asked of it: a key it wants, or a licence to accept first. */
export class RefusedUpstreamError extends DomainError {}

/** CivitAI or Hugging Face failed to answer usefully (an error status, an answer that is not what it documents). */
export class UpstreamError extends DomainError {}

/** CivitAI or Hugging Face did not answer in time. */
export class UpstreamTimedOutError extends UpstreamError {}

/** Our own state is damaged or missing (a catalog file that does not parse, the configuration); the detail says what to fix. */
export class BrokenStateError extends DomainError {}

export const modelNotFound = (file: string): NotFoundError =>
  new NotFoundError(`Model '${file}' not found in catalog`);
