import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { Readable } from "node:stream";
import type { z } from "zod";
import { createStudio, type Studio } from "../catalog/studio";
import { parseConfig } from "../config";
import { InvalidError, type ValidationIssue } from "../errors";
import { toValidationIssue } from "../issues";
import { secretsOf } from "../redact";
import { apiKeyAuth } from "./auth";
import { jsonBody, multipartBody } from "./body";
import { cors } from "./cors";
import { BadRequestError, errorResponse } from "./error-response";
import { configuredKey } from "./key-source";
import { inLambda, lambdaPayload } from "./lambda-payload";
import { jsonResponse, type ApiEvent, type ApiResult } from "./types";

type Schema = z.ZodType;
// A part without a schema reaches `fn` as it came, typed unknown.
type Out<S> = S extends Schema ? z.output<S> : unknown;

export interface ApiOptions<P, Q, B> {
  readonly path?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The body is multipart/form-data instead of JSON. */
  readonly multipart?: boolean;
  /** Where the handler's Studio comes from; by default studioOfProcess() (a test gives its own). */
  readonly studio?: () => Studio;
}

export interface ApiInput<P, Q, B> {
  readonly path: Out<P>;
  readonly query: Out<Q>;
  readonly body: Out<B>;
  /** The configuration and caches of this process, for the core function the handler calls. */
  readonly studio: Studio;
}

/**
 * The Studio of a handler's process, built from its environment at the first request that needs it and
 * kept from then on (in Lambda a process runs one function), so what it parsed serves every later request.
 * A configuration that does not parse fails each request with the variable's name, as at start-up.
 */
export function studioOfProcess(build: () => Studio = () => createStudio(parseConfig())): () => Studio {
  let studio: Studio | undefined;
  return () => (studio ??= build());
}

const parts = ["path", "query", "body"] as const;
const eventPart = (event: ApiEvent, part: (typeof parts)[number]): unknown =>
  part === "path" ? pathParameters(event) : part === "query" ? (event.queryStringParameters ?? {}) : event.body;

/**
 * Path parameters URL-decoded exactly once. API Gateway (REST) hands them over as they were sent,
 * percent-encoded; serverless-offline (hapi) has already decoded them, and decoding twice would turn a
 * file really named `a%20b` into `a b`.
 */
export function pathParameters(event: Pick<ApiEvent, "pathParameters">, offline = !inLambda()) {
  const raw = event.pathParameters ?? {};
  if (offline) return raw;
  try {
    return Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, value && decodeURIComponent(value)]));
  } catch {
    throw new BadRequestError("Malformed percent-encoding in the path");
  }
}

/** Checks path, query and body against their schemas; every problem is listed in one 422. */
function validate(event: ApiEvent, schemas: Partial<Record<(typeof parts)[number], Schema>>): Record<string, unknown> {
  const issues: ValidationIssue[] = [];
  const values: Record<string, unknown> = {};
  for (const part of parts) {
    const schema = schemas[part];
    if (!schema) {
      values[part] = eventPart(event, part);
      continue;
    }
    const result = schema.safeParse(eventPart(event, part));
    if (result.success) values[part] = result.data;
    else issues.push(...result.error.issues.map((issue) => toValidationIssue(issue, [part])));
  }
  if (issues.length > 0) throw new InvalidError(issues);
  return values;
}

function composed<P, Q, B>(options: ApiOptions<P, Q, B>, streamifyResponse: boolean, studio: () => Studio) {
  const { multipart } = options;
  const handler = middy<ApiEvent, ApiResult, Error, Context>({ streamifyResponse });
  // a log line of an error made before the configuration parsed has no configured credential to hide
  const secrets = () => {
    try {
      return secretsOf(studio().config);
    } catch {
      return [];
    }
  };
  // first, so that it sees the answer last: an error's, with its CORS headers, as well (a stream has no such limit)
  if (!streamifyResponse) handler.use(lambdaPayload());
  return handler
    .use(cors({ origins: () => studio().config.corsOrigins }))
    .use(errorResponse({ secrets }))
    .use(apiKeyAuth({ key: configuredKey(() => studio().config) }))
    .use(multipart ? multipartBody() : jsonBody());
}

const schemasOf = ({ path, query, body }: ApiOptions<Schema | undefined, Schema | undefined, Schema | undefined>) => ({
  ...(path && { path }),
  ...(query && { query }),
  ...(body && { body }),
});

/**
 * The one composition every endpoint uses: CORS, errors as {"detail"}, API key, body parsing and
 * validation, then `fn` with typed input and the process's Studio; what `fn` returns is the 200 JSON response.
 */
export function api<R, P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
  fn: (input: ApiInput<P, Q, B>) => Promise<R>,
  options: ApiOptions<P, Q, B> = {},
) {
  const schemas = schemasOf(options);
  const studio = options.studio ?? studioOfProcess();
  return composed(options, false, studio).handler(async (event) =>
    jsonResponse(200, await fn({ ...validate(event, schemas), studio: studio() } as ApiInput<P, Q, B>)),
  );
}

export interface StreamReply {
  readonly headers: Record<string, string>;
  readonly body: Readable;
}

/**
 * The same composition for a response that streams (API Gateway REST `transferMode: STREAM`): `fn`
 * returns headers and a Readable, and every error before the first byte is the usual {"detail"}.
 */
export function apiStream<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined>(
  fn: (input: ApiInput<P, Q, undefined>) => Promise<StreamReply>,
  options: ApiOptions<P, Q, undefined> = {},
) {
  const schemas = schemasOf(options);
  const studio = options.studio ?? studioOfProcess();
  return composed(options, true, studio).handler(async (event) => {
    const { headers, body } = await fn({ ...validate(event, schemas), studio: studio() } as ApiInput<P, Q, undefined>);
    // middy pipes a Readable body into the response stream; the result type only knows strings
    return { statusCode: 200, headers, body } as unknown as ApiResult;
  });
}
