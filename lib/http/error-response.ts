import { inspect } from "node:util";
import { HttpError } from "../errors";
import { redactSecrets } from "../redact";
import { jsonResponse, type ApiMiddleware } from "./types";

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
 * Turns every failure into `{"detail": ...}` with its status. Only errors meant for the client show
 * their message; anything else is a 500 "Internal error" whose cause goes to the log, not the response.
 */
export const errorResponse = (): ApiMiddleware => {
  const onError: ApiMiddleware["onError"] = (request) => {
    const { error } = request;
    if (error instanceof HttpError) {
      if (error.statusCode >= 500) console.error(redactSecrets(`${error.statusCode}: ${error.message}`));
      request.response = jsonResponse(error.statusCode, { detail: error.detail });
    } else if (isExposed(error)) {
      request.response = jsonResponse(error.statusCode, { detail: error.message });
    } else {
      console.error(`Internal error: ${redactSecrets(inspect(error))}`);
      request.response = jsonResponse(500, { detail: "Internal error" });
    }
  };
  return { onError };
};
