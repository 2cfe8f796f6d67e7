/** The test files' side of the upstream stand-in: its control requests (control.ts), and its URLs. */
import { encodePath } from "./http";
import type { Canned, FileSpec, FileStats, LogEntry, RegisteredFile, Tokens } from "./types";

export interface UpstreamClient {
  /** Adds a canned answer (see Canned). */
  can(answer: Canned): Promise<void>;
  register(file: FileSpec): Promise<RegisteredFile>;
  /** Replaces both tokens (an absent one is cleared). */
  setTokens(t: Tokens): Promise<void>;
  log(): Promise<LogEntry[]>;
  /** Clears the log only (files and tokens stay). */
  clearLog(): Promise<void>;
  stats(id: string): Promise<FileStats>;
  /** Clears log, files, canned answers and tokens. */
  reset(): Promise<void>;
  /** `<base>/files/<id>` */
  fileUrl(id: string): string;
  /** `<base>/<owner>/<repo>/resolve/main/<path>` for an id `<owner>/<repo>/<path>` */
  hfUrl(id: string): string;
  /** `<base>/api/download/models/<versionId>` */
  civitaiUrl(versionId: string | number): string;
}

export function upstreamClient(baseUrl: string): UpstreamClient {
  const base = baseUrl.replace(/\/+$/, "");
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`upstream ${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
  return {
    can: async (answer) => {
      await call("POST", "/_control/canned", answer);
    },
    register: (file) => call<RegisteredFile>("POST", "/_control/files", file),
    setTokens: async (t) => {
      await call("POST", "/_control/tokens", t);
    },
    log: () => call<LogEntry[]>("GET", "/_control/log"),
    clearLog: async () => {
      await call("DELETE", "/_control/log");
    },
    stats: (id) => call<FileStats>("GET", `/_control/files/${encodePath(id)}/stats`),
    reset: async () => {
      await call("POST", "/_control/reset");
    },
    fileUrl: (id) => `${base}/files/${encodePath(id)}`,
    hfUrl: (id) => {
      const [owner = "", repo = "", ...rest] = id.split("/");
      return `${base}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/resolve/main/${encodePath(rest.join("/"))}`;
    },
    civitaiUrl: (versionId) => `${base}/api/download/models/${encodeURIComponent(String(versionId))}`,
  };
}
