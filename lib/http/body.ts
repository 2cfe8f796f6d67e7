import multipartBodyParser from "@middy/http-multipart-body-parser";
import { TooLargeError } from "../errors";
import { BadRequestError } from "./error-response";
import { inLambda, LAMBDA_BODY_BYTES, megabytes } from "./lambda-payload";
import { header, type ApiMiddleware } from "./types";

/** API Gateway refuses bodies above 10 MB; the same limit holds under `npm start`, for a base64-encoded body too. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The limit where the handler runs: 10 MB under `npm start`, 4 MB in AWS Lambda (lambda-payload.ts says why). */
export const maxBodyBytes = (): number => (inLambda() ? LAMBDA_BODY_BYTES : MAX_BODY_BYTES);

const bodyBytes = (body: string, isBase64Encoded: boolean): number =>
  isBase64Encoded ? Buffer.byteLength(body, "base64") : Buffer.byteLength(body, "utf8");

const limitBody = (body: unknown, isBase64Encoded: boolean): void => {
  const limit = maxBodyBytes();
  if (typeof body === "string" && bodyBytes(body, isBase64Encoded) > limit) {
    throw new TooLargeError(`Request body is larger than ${megabytes(limit)}`);
  }
};

/**
 * Parses a JSON body whatever Content-Type it came with (curl -d sends form-urlencoded), so a client is
 * never told "415" for a body that is fine. An empty body stays undefined for the schema to judge.
 */
export const jsonBody = (): ApiMiddleware => {
  const before: ApiMiddleware["before"] = (request) => {
    const { event } = request;
    limitBody(event.body, event.isBase64Encoded);
    if (typeof event.body !== "string") return;
    const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
    if (text.trim() === "") {
      event.body = undefined;
      return;
    }
    try {
      event.body = JSON.parse(text);
    } catch (error) {
      throw new BadRequestError(`Invalid JSON: ${(error as Error).message}`);
    }
  };
  return { before };
};

/**
 * Whether a multipart body reaches its closing boundary. busboy reports one that stops inside a file part
 * twice: to the parser, and on the part's stream, where nobody listens, as an uncaught exception that
 * takes the whole process down (all of serverless-offline under `npm start`). Such a body is not parsed.
 */
function closesMultipart(body: string, isBase64Encoded: boolean, boundary: string): boolean {
  const text = isBase64Encoded ? Buffer.from(body, "base64").toString("latin1") : body;
  const close = `--${boundary}--`;
  return text.startsWith(close) || text.includes(`\r\n${close}`);
}

/** A multipart/form-data upload: files become `{filename, mimetype, content: Buffer}`, fields strings. */
export const multipartBody = (): ApiMiddleware => {
  const parser = multipartBodyParser({
    busboy: { limits: { fileSize: MAX_BODY_BYTES + 1, files: 4, fields: 16, parts: 20 } },
    disableContentTypeError: true,
  });
  const before: ApiMiddleware["before"] = async (request) => {
    const { event } = request;
    limitBody(event.body, event.isBase64Encoded);
    const boundary = /^multipart\/form-data\s*;.*\bboundary="?([^";]+)"?/i.exec(header(event, "content-type") ?? "")?.[1];
    if (boundary === undefined) {
      throw new BadRequestError('Expected a multipart/form-data upload (curl -F "file=@models.json")');
    }
    if (typeof event.body === "string" && !closesMultipart(event.body, event.isBase64Encoded, boundary)) {
      throw new BadRequestError(`The multipart upload ends before its closing boundary '--${boundary}--': send the whole form`);
    }
    // The parser only knows one spelling of the header, and only unquoted boundaries.
    event.headers = { ...event.headers, "content-type": `multipart/form-data; boundary=${boundary}` };
    await parser.before?.(request as Parameters<NonNullable<typeof parser.before>>[0]);
    if (typeof event.body === "string") {
      throw new BadRequestError(`Unsupported multipart boundary '${boundary}': use letters, digits and '-'`);
    }
  };
  return { before };
};

/** The content of one uploaded form field: a file part, or a plain field holding the text itself. */
export function formFile(body: unknown, field: string): Buffer | string {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  if (typeof value === "string") return value;
  if (Array.isArray(value)) throw new BadRequestError(`Send one file in the form field '${field}', not ${value.length}`);
  const content = (value as { content?: unknown } | undefined)?.content;
  if (Buffer.isBuffer(content)) return content;
  throw new BadRequestError(`Missing form field '${field}': upload the JSON file as ${field}=@models.json`);
}
