// Types of scripts/load-kit.mjs, for test/fault/load.test.ts.
export declare const LIST_PATH: string;
export declare const STATUS_PATH: string;
export declare const TARGETS: { readonly errors: number; readonly ratio: number };

export declare function writeLoadCatalog(
  studioDir: string,
  modelsDir: string,
  options?: { models?: number; presentEvery?: number },
): Promise<{ models: number; present: number }>;

export declare function listOnce(baseUrl: string, apiKey: string): Promise<{ status: number; total: number | undefined; present: number | undefined }>;

export interface SseClient {
  readonly id: number;
  /** When each `data:` event arrived (ms since the epoch). */
  readonly events: number[];
  readonly connects: number;
  readonly errors: string[];
  readonly statuses: number[];
}

export declare function connectSseClients(options: { baseUrl: string; apiKey: string; count: number }): {
  readonly clients: SseClient[];
  ready(timeoutMs?: number): Promise<void>;
  stop(): void;
};

export interface SseReport {
  readonly clients: number;
  readonly minEvents: number;
  readonly maxGapMs: number;
  readonly stalled: number[];
  readonly errors: number;
}

export declare function sseReport(clients: readonly SseClient[], from: number, to: number, maxGapMs?: number): SseReport;

export interface LoadRun {
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly ratio: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly status5xx: number;
  readonly bytesPerSecond: number;
}

export declare function loadList(options: { baseUrl: string; apiKey: string; duration: number; connections: number; timeout?: number }): Promise<LoadRun>;

export declare function warmList(options: {
  baseUrl: string;
  apiKey: string;
  connections: number;
  perConnection?: number;
  timeout?: number;
}): Promise<{ requests: number; failures: number; seconds: number }>;

export declare function verdict(run: LoadRun): { errorsOk: boolean; ratioOk: boolean };
