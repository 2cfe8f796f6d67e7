/**
 * Every environment variable of the runtime contract (the README's Configuration), parsed once per process
 * by parseConfig and passed to what needs it (no module keeps a configuration of its own). A bad value stops
 * the process (or fails the request, in a Lambda) with the variable's name; secrets are wrapped so that no
 * log line can print them.
 */
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { BrokenStateError } from "./errors";
import { foldersOverlap } from "./folders-apart";
import { Secret } from "./secret";

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const httpUrl = (fallback: string) =>
  optionalString
    .transform((value) => value ?? fallback)
    .pipe(z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }))
    .transform((value) => value.replace(/\/+$/, ""));

const integer = (fallback: number, min: number, max: number) =>
  optionalString
    .transform((value) => value ?? String(fallback))
    .pipe(z.string().regex(/^\d+$/, { error: "must be a whole number" }))
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

// A switch: true/false or 1/0 in any case, so that a typo ("ture", "yes") stops start-up rather than
// quietly leaving the switch where it was.
const flag = (fallback: boolean) =>
  optionalString
    .transform((value) => (value ?? String(fallback)).toLowerCase())
    .pipe(z.enum(["true", "false", "1", "0"], { error: "must be true or false (or 1 or 0)" }))
    .transform((value) => value === "true" || value === "1");

const EnvSchema = z.object({
  API_KEY: optionalString,
  API_KEY_PARAMETER: optionalString,
  STUDIO_DIR: optionalString,
  COMFYUI_DIR: optionalString,
  MODELS_DIR: optionalString,
  CIVITAI_API_KEY: optionalString,
  HF_TOKEN: optionalString,
  CIVITAI_BASE_URL: httpUrl("https://civitai.com"),
  HF_ENDPOINT: httpUrl("https://huggingface.co"),
  CATALOG_REPO_URL: optionalString,
  MAX_CONCURRENT_DOWNLOADS: integer(3, 1, 32),
  DOWNLOAD_CONNECTIONS: integer(8, 1, 32),
  DOWNLOAD_STALL_SECONDS: integer(60, 1, 3600),
  DOWNLOAD_RETRY_BASE_MS: integer(1000, 1, 60_000),
  DOWNLOAD_MAX_ATTEMPTS: integer(8, 1, 100),
  METADATA_TIMEOUT_SECONDS: integer(30, 1, 600),
  PORT: integer(3000, 1, 65535),
  HOST: optionalString,
  CORS_ORIGINS: optionalString,
  ALLOW_PRIVATE_URLS: flag(false),
});

export interface Config {
  /** Absent only before `npm start` has generated one; the API refuses to serve without it. */
  readonly apiKey: Secret | undefined;
  /** In Lambda: the SSM SecureString parameter that holds the key (read by lib/http/key-source.ts), when API_KEY is unset. */
  readonly apiKeyParameter: string | undefined;
  readonly studioDir: string;
  readonly catalogsDir: string;
  readonly stateDir: string;
  readonly repoDir: string;
  readonly comfyuiDir: string;
  readonly modelsDir: string;
  readonly civitaiApiKey: Secret | undefined;
  readonly hfToken: Secret | undefined;
  readonly civitaiBaseUrl: string;
  readonly hfEndpoint: string;
  readonly catalogRepoUrl: string | undefined;
  readonly maxConcurrentDownloads: number;
  readonly downloadConnections: number;
  /** A connection that sends no byte for this long is dropped and retried. */
  readonly downloadStallMs: number;
  /** First retry delay; it doubles (with jitter) up to 30 s. */
  readonly downloadRetryBaseMs: number;
  /** Tries of one piece without progress before the download fails. */
  readonly downloadMaxAttempts: number;
  /** Every request to CivitAI's or Hugging Face's API gives up after this long. */
  readonly metadataTimeoutMs: number;
  readonly port: number;
  readonly host: string;
  readonly corsOrigins: readonly string[];
  /**
   * Catalog URLs and redirects may reach loopback, private and link-local addresses (a local mirror).
   * Off by default: a catalog is anyone's text, and such a URL reaches the pod's own services.
   */
  readonly allowPrivateUrls: boolean;
}

export class ConfigError extends BrokenStateError {}

const isWritableDir = (dir: string): boolean => {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

export const DEFAULT_CORS_ORIGINS = ["chrome-extension://*"];

export function parseConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const studioDir = path.resolve(cwd, e.STUDIO_DIR ?? (isWritableDir("/workspace") ? "/workspace/studio" : ".studio"));
  const comfyuiDir = path.resolve(
    cwd,
    e.COMFYUI_DIR ?? (existsSync("/workspace/ComfyUI") ? "/workspace/ComfyUI" : ".studio/ComfyUI"),
  );
  const modelsDir = path.resolve(cwd, e.MODELS_DIR ?? path.join(comfyuiDir, "models"));
  const overlap = foldersOverlap(studioDir, modelsDir);
  if (overlap !== undefined) throw new ConfigError(`Invalid configuration: ${overlap}`);
  const corsOrigins = (e.CORS_ORIGINS ?? DEFAULT_CORS_ORIGINS.join(","))
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");

  return Object.freeze({
    apiKey: e.API_KEY === undefined ? undefined : new Secret(e.API_KEY),
    apiKeyParameter: e.API_KEY_PARAMETER,
    studioDir,
    catalogsDir: path.join(studioDir, "catalogs"),
    stateDir: path.join(studioDir, "state"),
    repoDir: path.join(studioDir, ".repo"),
    comfyuiDir,
    modelsDir,
    civitaiApiKey: e.CIVITAI_API_KEY === undefined ? undefined : new Secret(e.CIVITAI_API_KEY),
    hfToken: e.HF_TOKEN === undefined ? undefined : new Secret(e.HF_TOKEN),
    civitaiBaseUrl: e.CIVITAI_BASE_URL,
    hfEndpoint: e.HF_ENDPOINT,
    catalogRepoUrl: e.CATALOG_REPO_URL,
    maxConcurrentDownloads: e.MAX_CONCURRENT_DOWNLOADS,
    downloadConnections: e.DOWNLOAD_CONNECTIONS,
    downloadStallMs: e.DOWNLOAD_STALL_SECONDS * 1000,
    downloadRetryBaseMs: e.DOWNLOAD_RETRY_BASE_MS,
    downloadMaxAttempts: e.DOWNLOAD_MAX_ATTEMPTS,
    metadataTimeoutMs: e.METADATA_TIMEOUT_SECONDS * 1000,
    port: e.PORT,
    host: e.HOST ?? "0.0.0.0",
    corsOrigins: Object.freeze(corsOrigins),
    allowPrivateUrls: e.ALLOW_PRIVATE_URLS,
  });
}
