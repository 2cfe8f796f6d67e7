import { Readable } from "node:stream";
import { z } from "zod";
import type { Config } from "../config";
import { queuePositions, readStatus, type Status } from "../state/status";

/**
 * The longest a stream lasts. In the cloud, API Gateway ends a streamed answer after 15 minutes (the
 * method's TimeoutInMillis, 900,000 in serverless.yml) and Lambda ends the function at its 900 s timeout,
 * both counted from before the first event (a cold start, the key's read from SSM): 30 s under both, a
 * stream ends with its retry hint rather than being cut off.
 */
export const MAX_STREAM_SECONDS = 870;

export const StatusQuery = z.object({
  /**
   * How long this stream lasts before it tells the client to reconnect (a Lambda bills every second).
   * Up to 900 is accepted, as documented; past MAX_STREAM_SECONDS the stream ends at MAX_STREAM_SECONDS.
   */
  max_seconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(900)
    .default(300)
    .transform((seconds) => Math.min(seconds, MAX_STREAM_SECONDS)),
});

const RETRY_MS = 2_000;
const INTERVAL_MS = 1_000;

/**
 * The reference's event: per file status, bytes, speed, percent, error; and for a queued or paused one its
 * `queue_position` (0-based); nothing of our own bookkeeping.
 */
export function downloadsEvent(status: Status, now = Date.now()) {
  const downloads: Record<string, object> = {};
  const positions = queuePositions(status);
  for (const [file, entry] of Object.entries(status.downloads)) {
    const { status: state, bytes_downloaded, bytes_total, speed, percent, error } = entry;
    const position = positions.get(file);
    downloads[file] = {
      status: state,
      bytes_downloaded,
      bytes_total,
      speed,
      percent,
      ...(error !== undefined && { error }),
      ...(position !== undefined && { queue_position: position }),
    };
  }
  return { downloads, timestamp: now / 1000 };
}

/**
 * Server-Sent Events: one `data:` event at once and then every second, until `maxSeconds` have passed;
 * then a `retry:` hint and the end, so that clients reconnect. A client that goes away stops it.
 */
export function statusEvents(config: Pick<Config, "stateDir">, maxSeconds: number): Readable {
  async function* events() {
    const ends = Date.now() + maxSeconds * 1000;
    for (;;) {
      yield `data: ${JSON.stringify(downloadsEvent(await readStatus(config)))}\n\n`;
      const wait = Math.min(INTERVAL_MS, ends - Date.now());
      if (wait <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (Date.now() >= ends) break;
    }
    yield `retry: ${RETRY_MS}\n\n`;
  }
  return Readable.from(events(), { objectMode: false });
}

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-store",
  // proxies (nginx, the pod's) must pass each event on at once
  "X-Accel-Buffering": "no",
};
