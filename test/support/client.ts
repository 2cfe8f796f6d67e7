import { inject } from "vitest";
import { markersIn } from "./secrets";

export interface ApiReply<T = unknown> {
  status: number;
  headers: Headers;
  json: T;
  text: string;
}

export interface CallOptions {
  /** The API key to send; `null` sends none. Defaults to the stack's key. */
  key?: string | null;
  body?: string | FormData | Uint8Array;
  json?: unknown;
  headers?: Record<string, string>;
}

export interface Target {
  readonly baseUrl: string;
  readonly apiKey: string;
}

/** One HTTP request to the shared integration stack, as curl or the Chrome extension would make it. */
export const call = <T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<ApiReply<T>> =>
  callAt<T>(inject("stack"), method, path, options);

/** One HTTP request to the stack at `target` (a stack of a test's own: test/support/own-stack.ts). */
export async function callAt<T = unknown>(
  { baseUrl, apiKey }: Target,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiReply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? apiKey : options.key;
  if (key !== null) headers["X-API-Key"] = key;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined && { body }) });
  const text = await response.text();
  // every response of every scenario is checked: a credential in one fails the test that got it
  const leaked = markersIn(`${method} ${path}`, `${[...response.headers].join("\n")}\n${text}`);
  if (leaked.length > 0) throw new Error(`${method} ${path} answered with a credential in its headers or body`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json: json as T, text };
}

/** A multipart upload with the JSON as a file in field `file`, as `curl -F file=@models.json` sends it. */
export function uploadForm(content: string | Uint8Array, field = "file", filename = "models.json"): FormData {
  const form = new FormData();
  form.append(field, new Blob([content], { type: "application/json" }), filename);
  return form;
}
