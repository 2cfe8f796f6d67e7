/**
 * One Lambda execution environment, as the Node.js runtime (aws-lambda-nodejs-runtime-interface-client) makes
 * it: started with the function's environment in its task root, it installs the `awslambda` global, loads
 * the handler `_HANDLER` names (`handlers/x.handler` -> the export `handler` of `handlers/x.js`) once, then
 * serves one invocation at a time, warm, for as long as the parent keeps it. The parent (lambda-cloud.ts)
 * speaks over the IPC channel (advanced serialization):
 *   -> {type: "invoke", id, event, requestId, deadline}
 *   <- {type: "ready"} | {type: "init-error", errorType, errorMessage}          once, after loading
 *   <- {type: "result", id, payload}   payload: the result as the runtime posts it, JSON.stringify'd
 *   <- {type: "head", id, contentType}, {type: "chunk", id, data}, {type: "end", id}   a streamed response
 *   <- {type: "error", id, errorType, errorMessage}   what the runtime reports for a failed invocation
 */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, loaded by node as the runtime loads its bootstrap */
"use strict";

const path = require("node:path");
const { Writable } = require("node:stream");

const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HANDLER_HIGHWATERMARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const STREAM_RESPONSE = "response";
const DELIMITER_LEN = 8;

// the runtime's HttpResponseStream: a JSON prelude (status, headers), 8 NUL bytes, then the body
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType("application/vnd.awslambda.http-integration-response");
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER_LEN));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = {
  HttpResponseStream,
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    if (typeof options?.highWaterMark === "number") handler[HANDLER_HIGHWATERMARK] = options.highWaterMark;
    return handler;
  },
};

const send = (message) => process.send(message);

/** The stream a streaming handler writes to; every byte goes to the parent as it is written. */
class ResponseStream extends Writable {
  constructor(id, highWaterMark) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this._id = id;
    this._contentType = "application/octet-stream";
    this._started = false;
  }

  setContentType(contentType) {
    if (this._started) throw new Error("Tried to set the content type after the first write");
    this._contentType = contentType;
  }

  getContentType() {
    return this._contentType;
  }

  _start() {
    if (this._started) return;
    this._started = true;
    send({ type: "head", id: this._id, contentType: this._contentType });
    this._onBeforeFirstWrite?.((chunk) => send({ type: "chunk", id: this._id, data: Buffer.from(chunk) }));
  }

  _write(chunk, _encoding, callback) {
    this._start();
    send({ type: "chunk", id: this._id, data: Buffer.from(chunk) });
    callback();
  }

  _final(callback) {
    this._start();
    send({ type: "end", id: this._id });
    callback();
  }
}

const failure = (error) => ({
  errorType: error?.name ?? "Error",
  errorMessage: error?.message ?? String(error),
});

function context(requestId, deadline) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:123456789012:function:${env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function load() {
  // `handlers/list-models.handler`: module `handlers/list-models`, export `handler`
  const spec = process.env._HANDLER;
  const base = path.basename(spec);
  const dot = base.indexOf(".");
  const modulePath = path.resolve(process.env.LAMBDA_TASK_ROOT, path.dirname(spec), base.slice(0, dot));
  const handler = base
    .slice(dot + 1)
    .split(".")
    .reduce((object, name) => object?.[name], require(modulePath));
  if (typeof handler !== "function") throw Object.assign(new Error(`${spec} is undefined or not exported`), { name: "Runtime.HandlerNotFound" });
  return handler;
}

let handler;
try {
  handler = load();
  send({ type: "ready" });
} catch (error) {
  // the runtime reports Runtime.ImportModuleError and the like, and the environment is thrown away
  process.send({ type: "init-error", ...failure(error) }, () => process.exit(1));
}

async function invoke({ id, event, requestId, deadline }) {
  const ctx = context(requestId, deadline);
  try {
    if (handler[HANDLER_STREAMING] === STREAM_RESPONSE) {
      const stream = new ResponseStream(id, handler[HANDLER_HIGHWATERMARK]);
      await handler(event, stream, ctx);
      if (!stream.writableFinished) await new Promise((resolve) => stream.end(resolve));
      return;
    }
    const result = await handler(event, ctx);
    send({ type: "result", id, payload: JSON.stringify(result === undefined ? null : result) });
  } catch (error) {
    send({ type: "error", id, ...failure(error) });
  }
}

// one invocation at a time, as one execution environment serves them
let queue = Promise.resolve();
process.on("message", (message) => {
  if (message?.type === "invoke" && handler) queue = queue.then(() => invoke(message));
});
process.on("disconnect", () => process.exit(0));
