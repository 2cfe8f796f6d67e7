import { describeDetail } from "./detail";

/** A failed API call: `detail` is what the API said, in words, ready to show. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;

  constructor(status: number, detail: string) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.name = "ApiError";
  }
}

export interface ApiOptions {
  /** Where the API lives: the page's own origin and path prefix (a cloud stage adds one). */
  readonly base: string;
  readonly key: () => string | undefined;
  /** A 401 to a call made with `key`: it is missing or wrong, and the person must give it again. */
  readonly onUnauthorized: (detail: string, key: string | undefined) => void;
}

/** The page's one way to the API: same origin, the key on every call, every error as its detail. */
export class Api {
  readonly #options: ApiOptions;

  constructor(options: ApiOptions) {
    this.#options = options;
  }

  /** `path` is relative to the API's base, e.g. "api/admin/models". */
  async call<T>(method: string, path: string, body?: FormData | object): Promise<T> {
    const response = await this.open(method, path, { body });
    const text = await response.text();
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, "The service sent an answer that is not JSON");
    }
  }

  /** The response of a successful call, its body unread (the status stream reads it as it comes). */
  async open(method: string, path: string, { body, signal }: { body?: FormData | object | undefined; signal?: AbortSignal } = {}): Promise<Response> {
    const headers = new Headers({ Accept: "application/json" });
    const key = this.#options.key();
    if (key !== undefined) headers.set("X-API-Key", key);
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers.set("Content-Type", "application/json");
    }
    let response: Response;
    try {
      response = await fetch(`${this.#options.base}${path}`, { method, headers, cache: "no-store", ...(payload !== undefined && { body: payload }), ...(signal && { signal }) });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, "Cannot reach the service: check that it is running and the network is up");
    }
    if (response.ok) return response;
    const error = new ApiError(response.status, await errorDetail(response));
    if (response.status === 401) this.#options.onUnauthorized(error.detail, key);
    throw error;
  }
}

async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  let detail: unknown;
  try {
    detail = (JSON.parse(text) as { detail?: unknown }).detail;
  } catch {
    detail = undefined;
  }
  return describeDetail(detail, response.status, response.statusText);
}
