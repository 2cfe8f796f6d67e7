/**
 * The packaged service as AWS would run it, on this machine: the routes of the packaged template's REST API
 * (lambda-events.ts plays API Gateway), each function unpacked from its zip and run by the Lambda Node.js
 * runtime's way (lambda-runner.cjs: a fresh `node` per function, kept warm, one invocation at a time) with
 * only the environment the template gives it, resolved with the test's parameter values, plus what the
 * runtime sets. Two things are local stand-ins: the EFS mount (every variable that starts with the function's
 * LocalMountPath, /mnt/workspace, points into a temp folder instead), and SSM Parameter Store (ssm-stand-in.ts,
 * reached through AWS_ENDPOINT_URL_SSM with dummy credentials). Lambda's 6 MB limits are enforced as Lambda
 * enforces them: an event over it is refused (API Gateway: 413 "Request Too Long", as seen in the field), a
 * result over it fails the invocation (502).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { NO_VALUE, Resolver } from "./cfn";
import { API_GATEWAY_BODY_BYTES, clientReply, gatewayReply, restEvent, type ClientReply, type ClientRequest } from "./lambda-events";
import { LambdaEnvironment, runtimeEnv, type RunnerMessage } from "./lambda-environment";
import { apiRoutes, matchRoute, type LambdaFunction, type Route } from "./lambda-routes";
import { packagedTemplate, type CfnTemplate } from "./package";
import { startSsmStandIn, type SsmStandIn } from "./ssm-stand-in";

/** Lambda refuses an invocation whose event is larger than this (RequestEntityTooLargeException)... */
export const LAMBDA_REQUEST_BYTES = 6 * 1024 * 1024;
/** ...and fails one whose result is larger than this. */
export const LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

export interface CloudOptions {
  readonly packageDir: string;
  /** CloudFormation parameter values, as a deploy would be given them. */
  readonly parameters: Record<string, string>;
  /** Values for variables the template defines (never adds one it does not). */
  readonly env?: Record<string, string>;
  /** What SSM Parameter Store holds, by name (a SecureString each). */
  readonly ssmParameters: Record<string, string>;
}

export interface CloudReply extends ClientReply {
  /** The function that ran, the event's and the result's size as Lambda counts them, and a failure's type. */
  readonly lambda: { fn?: string | undefined; eventBytes?: number | undefined; resultBytes?: number; error?: string };
  /** The body as the client reads it: decompressed when Content-Encoding says gzip. */
  text(): string;
  json<T = unknown>(): T;
}

export interface CloudStream {
  /** The runtime-level content type the function set: the HTTP integration's prelude type for API Gateway. */
  readonly contentType: string;
  readonly prelude: { statusCode?: number; headers?: Record<string, string> };
  /** The next piece of the body and when it arrived; undefined once the function ended its stream. */
  next(): Promise<{ at: number; data: Buffer } | undefined>;
}

export class LambdaCloud {
  readonly #template: CfnTemplate;
  readonly #resolver: Resolver;
  readonly #routes: Route[];
  readonly #environments = new Map<string, LambdaEnvironment>();
  readonly #logs: string[] = [];
  readonly #options: CloudOptions;

  private constructor(
    template: CfnTemplate,
    options: CloudOptions,
    readonly root: string,
    readonly ssm: SsmStandIn,
  ) {
    this.#template = template;
    this.#options = options;
    this.#resolver = new Resolver(template, options.parameters);
    this.#routes = apiRoutes(template);
  }

  static async start(options: CloudOptions): Promise<LambdaCloud> {
    const template = await packagedTemplate(options.packageDir);
    const root = await mkdtemp(path.join(os.tmpdir(), "models-admin-lambda-"));
    return new LambdaCloud(template, options, root, await startSsmStandIn(options.ssmParameters));
  }

  /** The folder that stands for the EFS access point's root (the pod's /workspace). */
  get mountDir(): string {
    return path.join(this.root, "efs");
  }

  get template(): CfnTemplate {
    return this.#template;
  }

  get restApi(): Record<string, unknown> {
    return Object.values(this.#template.Resources).find((r) => r.Type === "AWS::ApiGateway::RestApi")!.Properties;
  }

  /** What each runner printed, prefixed by its function. */
  logs(): readonly string[] {
    return this.#logs;
  }

  /** The environment a function runs with: the template's, resolved, then what the runtime adds. */
  envOf(name: string): Record<string, string> {
    const fn = this.#routes.find((route) => route.fn.name === name)?.fn;
    if (!fn) throw new Error(`no function ${name} behind the API`);
    const props = fn.properties;
    const variables = this.#resolver.resolve((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const mount = (props.FileSystemConfigs as { LocalMountPath: string }[] | undefined)?.[0]?.LocalMountPath;
    const env: Record<string, string> = {};
    for (const [key, raw] of Object.entries(variables)) {
      if (raw === NO_VALUE) continue;
      let value = this.#options.env?.[key] ?? String(raw);
      // the EFS mount, here a temp folder
      if (mount !== undefined && (value === mount || value.startsWith(`${mount}/`))) value = this.mountDir + value.slice(mount.length);
      env[key] = value;
    }
    const functionName = String(this.#resolver.resolve(props.FunctionName ?? fn.logicalId));
    // the SDK reaches SSM at the stand-in (its region and dummy credentials are the runtime's)
    return { ...env, ...runtimeEnv(props, functionName, path.join(this.root, "task", fn.name)), AWS_ENDPOINT_URL_SSM: this.ssm.url };
  }

  async #environment(fn: LambdaFunction): Promise<LambdaEnvironment> {
    const running = this.#environments.get(fn.name);
    if (running?.alive) return running;
    const zip = path.join(this.#options.packageDir, `${fn.name}.zip`);
    const environment = await LambdaEnvironment.start(zip, this.envOf(fn.name), (line) => this.#logs.push(`[${fn.name}] ${line}`));
    this.#environments.set(fn.name, environment);
    return environment;
  }

  /** Starts every function's environment at once (cold starts), rather than one by one on first use. */
  async warm(): Promise<void> {
    const functions = new Map(this.#routes.map((route) => [route.fn.name, route.fn]));
    await Promise.all([...functions.values()].map(async (fn) => (await this.#environment(fn)).ready));
  }

  #request(method: string, url: string, options: { headers?: Record<string, string> | [string, string][]; body?: string | Buffer }): ClientRequest {
    const headers = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
    const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body;
    return { method, url, headers, body };
  }

  #prepare(request: ClientRequest) {
    const matched = matchRoute(this.#routes, request.method, request.url);
    if (!matched) return { refused: gatewayReply(this.#template, "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token") };
    if ((request.body?.length ?? 0) > API_GATEWAY_BODY_BYTES) return { refused: gatewayReply(this.#template, "REQUEST_TOO_LARGE", 413, "Request Too Long") };
    const binaryMediaTypes = (this.restApi.BinaryMediaTypes as string[] | undefined) ?? [];
    const event = restEvent(request, { resource: matched.route.resource, pathParameters: matched.pathParameters }, binaryMediaTypes);
    const eventBytes = Buffer.byteLength(JSON.stringify(event));
    // Lambda refuses the invocation (RequestEntityTooLargeException, its 413) and API Gateway passes that on as a
    // 413 "Request Too Long" of its own (x-amzn-errortype BadRequestException): the function never sees it
    if (eventBytes > LAMBDA_REQUEST_BYTES) return { refused: gatewayReply(this.#template, "DEFAULT_4XX", 413, "Request Too Long"), eventBytes, route: matched.route };
    return { event, eventBytes, route: matched.route };
  }

  async #invoke(route: Route, event: unknown, onMessage: (message: RunnerMessage) => boolean): Promise<void> {
    await (await this.#environment(route.fn)).invoke(event, route.timeoutMs, onMessage);
  }

  /** One request through API Gateway to a buffered (non-streaming) function, as a client sees the answer. */
  async request(method: string, url: string, options: { headers?: Record<string, string> | [string, string][]; body?: string | Buffer } = {}): Promise<CloudReply> {
    const request = this.#request(method, url, options);
    const prepared = this.#prepare(request);
    if ("refused" in prepared) return reply(prepared.refused, { fn: prepared.route?.fn.name, eventBytes: prepared.eventBytes, error: "refused before the function" });
    const { route, event, eventBytes } = prepared;
    if (route.streaming) throw new Error(`${method} ${url} is a streamed route: use stream()`);
    let outcome: RunnerMessage | undefined;
    await this.#invoke(route, event, (message) => {
      outcome = message;
      return message.type === "result" || message.type === "error";
    });
    const lambda = { fn: route.fn.name, eventBytes };
    if (outcome?.type !== "result") {
      const error = outcome && "errorType" in outcome ? `${outcome.errorType}: ${outcome.errorMessage}` : "no answer";
      const timedOut = error.startsWith("Sandbox.Timedout");
      const refused = timedOut ? gatewayReply(this.#template, "INTEGRATION_TIMEOUT", 504, "Endpoint request timed out") : gatewayReply(this.#template, "DEFAULT_5XX", 502, "Internal server error");
      return reply(refused, { ...lambda, error });
    }
    const resultBytes = Buffer.byteLength(outcome.payload);
    if (resultBytes > LAMBDA_RESPONSE_BYTES) {
      return reply(gatewayReply(this.#template, "DEFAULT_5XX", 502, "Internal server error"), { ...lambda, resultBytes, error: "Function.ResponseSizeTooLarge" });
    }
    const result = JSON.parse(outcome.payload) as Parameters<typeof clientReply>[0];
    const api = { binaryMediaTypes: (this.restApi.BinaryMediaTypes as string[] | undefined) ?? [], minimumCompressionSize: this.restApi.MinimumCompressionSize as number | undefined };
    return reply(clientReply(result, request, api), { ...lambda, resultBytes });
  }

  /** One request to a streamed function: the runtime's content type, the prelude, then the body as it comes. */
  async stream(method: string, url: string, options: { headers?: Record<string, string> } = {}): Promise<CloudStream> {
    const prepared = this.#prepare(this.#request(method, url, options));
    if ("refused" in prepared || !prepared.route.streaming) throw new Error(`${method} ${url} is not a streamed route that takes this request`);
    const pieces: ({ at: number; data: Buffer } | undefined)[] = [];
    let wake: (() => void) | undefined;
    let contentType = "";
    let pending = Buffer.alloc(0);
    let preluded: ((prelude: CloudStream["prelude"]) => void) | undefined;
    const prelude = new Promise<CloudStream["prelude"]>((resolve) => (preluded = resolve));
    const push = (piece: { at: number; data: Buffer } | undefined) => {
      pieces.push(piece);
      wake?.();
    };
    const done = this.#invoke(prepared.route, prepared.event, (message) => {
      if (message.type === "head") contentType = message.contentType;
      if (message.type === "chunk") {
        if (preluded) {
          // the prelude's JSON, then 8 NUL bytes, then the body
          pending = Buffer.concat([pending, Buffer.from(message.data)]);
          const end = pending.indexOf(Buffer.alloc(8));
          if (end < 0) return false;
          preluded(JSON.parse(pending.subarray(0, end).toString("utf8")) as CloudStream["prelude"]);
          preluded = undefined;
          if (pending.length > end + 8) push({ at: Date.now(), data: pending.subarray(end + 8) });
        } else push({ at: Date.now(), data: Buffer.from(message.data) });
      }
      if (message.type === "error") this.#logs.push(`[${prepared.route.fn.name}] stream failed: ${message.errorType}: ${message.errorMessage}`);
      return message.type === "end" || message.type === "error";
    });
    void done.finally(() => {
      preluded?.({});
      push(undefined);
    });
    const head = await prelude;
    return {
      contentType,
      prelude: head,
      next: async () => {
        while (pieces.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return pieces.shift();
      },
    };
  }

  async close(): Promise<void> {
    for (const environment of this.#environments.values()) environment.stop();
    await this.ssm.close();
    if (process.env.KEEP_TEST_DIRS) console.log(`kept ${this.root}`);
    else await rm(this.root, { recursive: true, force: true });
  }
}

function reply(client: ClientReply, lambda: CloudReply["lambda"]): CloudReply {
  const decoded = () => (client.headers["content-encoding"] === "gzip" ? gunzipSync(client.body) : client.body).toString("utf8");
  return { ...client, lambda, text: decoded, json: <T>() => JSON.parse(decoded()) as T };
}
