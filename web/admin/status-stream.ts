import { ApiError, type Api } from "./api";
import { reconnectDelay, SseParser } from "./sse-parser";
import type { StatusEvent } from "./types";

export type StreamState = { readonly state: "connecting" | "live" } | { readonly state: "reconnecting"; readonly reason: string; readonly inMs: number };

export interface StreamHandlers {
  onEvent(event: StatusEvent): void;
  onState(state: StreamState): void;
}

/** A stream that says nothing this long is dead (a proxy holding it open): drop it and connect again. */
const SILENCE_MS = 10_000;

/**
 * Follows GET /api/admin/models/status for as long as `signal` allows: reads it with fetch and a stream
 * reader (EventSource can't send the key), reconnects after the server ends it (its `retry:`), and backs
 * off after failures. A 401 stops it: the key prompt takes over, and a new key starts a new stream.
 */
export async function followStatus(api: Api, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
  let retryMs = 2_000;
  let failures = 0;
  while (!signal.aborted) {
    handlers.onState({ state: "connecting" });
    let reason = "";
    try {
      retryMs = await readOnce(api, handlers, signal, retryMs, () => (failures = 0));
    } catch (error) {
      if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
      failures += 1;
      reason = error instanceof ApiError ? error.detail : "the connection was lost";
    }
    const inMs = reconnectDelay(failures, retryMs);
    if (failures > 0) handlers.onState({ state: "reconnecting", reason, inMs });
    await sleep(inMs, signal);
  }
}

/** One connection, to its end; resolves with the `retry:` the server asked for. */
async function readOnce(api: Api, handlers: StreamHandlers, signal: AbortSignal, retryMs: number, onData: () => void): Promise<number> {
  const connection = new AbortController();
  const abort = () => connection.abort();
  signal.addEventListener("abort", abort, { once: true });
  let watchdog = setTimeout(abort, SILENCE_MS);
  try {
    const response = await api.open("GET", "api/admin/models/status", { signal: connection.signal });
    if (response.body === null) throw new ApiError(response.status, "The status stream has no body");
    handlers.onState({ state: "live" });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let retry = retryMs;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return retry;
      clearTimeout(watchdog);
      watchdog = setTimeout(abort, SILENCE_MS);
      for (const item of parser.feed(value)) {
        if (item.type === "retry") retry = item.ms;
        else {
          onData();
          handlers.onEvent(JSON.parse(item.data) as StatusEvent);
        }
      }
    }
  } catch (error) {
    // our own watchdog: a silent stream, not a page going away
    if (connection.signal.aborted && !signal.aborted) throw new ApiError(0, "the status stream went silent");
    throw error;
  } finally {
    clearTimeout(watchdog);
    signal.removeEventListener("abort", abort);
    connection.abort();
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
