import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Context } from "aws-lambda";
import { afterEach, beforeEach, vi } from "vitest";
import type { ApiEvent } from "../../lib/http/types";
import type { TestModel } from "../support/catalogs";

export type { TestModel };

/** A temp folder under os.tmpdir(); the caller removes it with `removeTempDir`. */
export const makeTempDir = (prefix = "models-admin-unit-"): Promise<string> =>
  mkdtemp(path.join(os.tmpdir(), prefix));

export const removeTempDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

export interface Studio {
  readonly root: string;
  readonly studioDir: string;
  readonly catalogsDir: string;
  readonly comfyuiDir: string;
  readonly modelsDir: string;
}

/**
 * Gives every test of the file its own studio in a temp dir: the env of the runtime contract points at it
 * and the module registry is reset, so lib modules imported (dynamically) after this see a fresh `config()`
 * and fresh caches. Register it before the file's own `beforeEach` that imports lib.
 */
export function useStudio(extraEnv: Record<string, string | undefined> = {}): () => Studio {
  let current: Studio | undefined;
  let saved: Record<string, string | undefined> = {};
  beforeEach(async () => {
    const root = await makeTempDir();
    const studioDir = path.join(root, "studio");
    const comfyuiDir = path.join(root, "ComfyUI");
    current = {
      root,
      studioDir,
      catalogsDir: path.join(studioDir, "catalogs"),
      comfyuiDir,
      modelsDir: path.join(comfyuiDir, "models"),
    };
    const env: Record<string, string | undefined> = {
      STUDIO_DIR: studioDir,
      COMFYUI_DIR: comfyuiDir,
      MODELS_DIR: current.modelsDir,
      API_KEY: undefined,
      CORS_ORIGINS: undefined,
      ...extraEnv,
    };
    saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    setEnv(env);
    vi.resetModules();
  });
  afterEach(async () => {
    setEnv(saved);
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

export async function writeCatalog(studio: Studio, name: "models" | "loras", doc: unknown): Promise<string> {
  const file = path.join(studio.catalogsDir, `${name}.json`);
  await mkdir(studio.catalogsDir, { recursive: true });
  await writeFile(file, typeof doc === "string" ? doc : `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

export async function readCatalog(studio: Studio, name: "models" | "loras"): Promise<unknown> {
  return JSON.parse(await readFile(path.join(studio.catalogsDir, `${name}.json`), "utf8"));
}

/** Puts a model file of `size` bytes where the catalog says it lives. */
export async function placeModelFile(studio: Studio, dest: string, file: string, size = 16): Promise<string> {
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
