import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import { afterEach, beforeEach } from "vitest";
import { createStudio, type Studio } from "../../lib/catalog/studio";
import { parseConfig, type Config } from "../../lib/config";
import type { ApiEvent, ApiResult } from "../../lib/http/types";
import type { TestModel } from "../support/catalogs";

export type { TestModel };

/** A temp folder under os.tmpdir(); the caller removes it with `removeTempDir`. */
export const makeTempDir = (prefix = "models-admin-unit-"): Promise<string> =>
  mkdtemp(path.join(os.tmpdir(), prefix));

export const removeTempDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

/** A lib Studio over a temp folder, with the folders a test writes into. */
export interface TestStudio extends Studio {
  readonly root: string;
  readonly studioDir: string;
  readonly catalogsDir: string;
  readonly comfyuiDir: string;
  readonly modelsDir: string;
}

/** The runtime contract's folders under `root`, as a test's environment gives them. */
export const studioEnv = (root: string): Record<string, string> => ({
  STUDIO_DIR: path.join(root, "studio"),
  COMFYUI_DIR: path.join(root, "ComfyUI"),
  MODELS_DIR: path.join(root, "ComfyUI", "models"),
});

/** A configuration parsed from `env` alone, its folders under a root that is never written (for tests that touch no file). */
export const testConfig = (env: Record<string, string | undefined> = {}): Config =>
  parseConfig({ ...studioEnv("/srv/unit-test"), ...env }, "/srv/unit-test");

/**
 * A Studio with its own configuration and fresh caches: parsed from `env` alone (never process.env), with
 * the folders under `root`. What a handler's or the sidecar's process builds at its start.
 */
export function testStudio(root: string, env: Record<string, string | undefined> = {}): TestStudio {
  const studio = createStudio(parseConfig({ ...studioEnv(root), ...env }, root));
  const { studioDir, catalogsDir, comfyuiDir, modelsDir } = studio.config;
  return { ...studio, root, studioDir, catalogsDir, comfyuiDir, modelsDir };
}

/**
 * Gives every test of the file its own studio in a temp dir: a Studio whose configuration is the runtime
 * contract's variables pointing there, plus `env`. Nothing global is changed, so lib is imported once,
 * statically, and each test builds exactly the configuration it needs.
 */
export function useStudio(env: Record<string, string | undefined> = {}): () => TestStudio {
  let current: TestStudio | undefined;
  beforeEach(async () => {
    current = testStudio(await makeTempDir(), env);
  });
  afterEach(async () => {
    if (current) await removeTempDir(current.root);
    current = undefined;
  });
  return () => {
    if (!current) throw new Error("useStudio(): the studio exists only inside a test");
    return current;
  };
}

export function setEnv(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

// ---- catalog documents, shaped like the shipped catalogs/models.json ----

// Looser than the integration suite's: unit tests also build categories and documents that are wrong on purpose.
export interface TestCategory {
  id: string;
  name?: string;
  models: unknown[];
  [field: string]: unknown;
}

export interface TestCatalog {
  version?: number;
  date?: string;
  categories: TestCategory[];
  [field: string]: unknown;
}

export const model = (file: string, dest = "checkpoints", extra: Record<string, unknown> = {}): TestModel => ({
  name: `${file.replace(/\.\w+$/, "")} [test]`,
  file,
  dest,
  source: "huggingface",
  size_gb: 2.13,
  tags: ["sd15"],
  base_model: "SD 1.5",
  hf_repo: "example/repo",
  hf_file: file,
  ...extra,
});

export const category = (id: string, models: unknown[], extra: Record<string, unknown> = {}): TestCategory => ({
  id,
  name: `Category ${id}`,
  models,
  ...extra,
});

export const catalogDoc = (categories: TestCategory[], extra: Record<string, unknown> = {}): TestCatalog => ({
  version: 7,
  date: "2026-03-23 15:00",
  categories,
  ...extra,
});

export async function writeCatalog(studio: TestStudio, name: "models" | "loras", doc: unknown): Promise<string> {
  const file = path.join(studio.catalogsDir, `${name}.json`);
  await mkdir(studio.catalogsDir, { recursive: true });
  await writeFile(file, typeof doc === "string" ? doc : `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

export async function readCatalog(studio: TestStudio, name: "models" | "loras"): Promise<unknown> {
  return JSON.parse(await readFile(path.join(studio.catalogsDir, `${name}.json`), "utf8"));
}

/** Puts a model file of `size` bytes where the catalog says it lives. */
export async function placeModelFile(studio: TestStudio, dest: string, file: string, size = 16): Promise<string> {
  const dir = path.join(studio.modelsDir, dest);
  await mkdir(dir, { recursive: true });
  const full = path.join(dir, file);
  await writeFile(full, Buffer.alloc(size, 7));
  return full;
}

// ---- API Gateway (REST) events, as serverless-offline and API Gateway hand them to a Lambda ----

export interface EventOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | null;
  isBase64Encoded?: boolean;
  pathParameters?: Record<string, string> | null;
  query?: Record<string, string> | null;
}

export function restEvent(options: EventOptions = {}): ApiEvent {
  const method = options.method ?? "GET";
  const urlPath = options.path ?? "/api/admin/models";
  const headers = options.headers ?? {};
  return {
    resource: urlPath,
    path: urlPath,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: options.pathParameters ?? null,
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      accountId: "123456789012",
      apiId: "local",
      authorizer: undefined,
      protocol: "HTTP/1.1",
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: "127.0.0.1",
        user: null,
        userAgent: "vitest",
        userArn: null,
      },
      path: urlPath,
      stage: "dev",
      requestId: "test-request",
      requestTimeEpoch: Date.now(),
      resourceId: "test",
      resourcePath: urlPath,
    },
  };
}

/** A handler as api() composes it. */
export type ApiHandler = MiddyfiedHandler<ApiEvent, ApiResult, Error, Context>;

export interface ApiReply {
  status: number;
  headers: Record<string, unknown>;
  json: unknown;
  raw: string;
}

/** Calls a composed handler as API Gateway would, with `key` in X-API-Key (null: no key). */
export async function invokeApi(handler: ApiHandler, options: EventOptions & { key: string | null }): Promise<ApiReply> {
  const { key, ...event } = options;
  const headers = { ...(key === null ? {} : { "X-API-Key": key }), ...event.headers };
  const result = await handler(restEvent({ ...event, headers }), lambdaContext());
  return {
    status: result.statusCode,
    headers: { ...result.headers },
    json: JSON.parse(result.body) as unknown,
    raw: JSON.stringify(result),
  };
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "models-admin-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:models-admin-test",
    memoryLimitInMB: "1024",
    awsRequestId: "test-request",
    logGroupName: "/aws/lambda/models-admin-test",
    logStreamName: "test",
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { detail?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}
