/**
 * One connection of a download: it takes a piece from the schedule, streams the response into the part file
 * through its writer, runs on into the next piece while nobody holds it, and takes new work until there is
 * none (or fewer connections are wanted). A connection that fails is retried (retry.ts) from the last byte
 * written, while the others go on; the bytes it had not fetched yet can meanwhile be taken over by others.
 *
 * The data path is event-driven: a chunk is cut to its range and handed to the writer, no promise per chunk;
 * the response is paused while the disk is behind and resumed when it caught up.
 */
import type { FileHandle } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { DownloadError } from "./errors";
import { looksLikeHtml } from "./probe";
import type { RawResponse } from "./raw-http";
import type { RetryPolicy } from "../../net/retry";
import type { RateLimiter, Waiter } from "./rate-limit";
import { retryingDownload } from "./retry";
import type { Lease, RangeSchedule } from "./schedule";
import { HIGH_WATER_BYTES, SegmentWriter, type WriteLane } from "./writer";
import type { Segment } from "./control";

export interface ConnectionContext {
  readonly schedule: RangeSchedule;
  readonly handle: FileHandle;
  /** The download's one write at a time to its file, shared by its connections. */
  readonly lane: WriteLane;
  /**
   * A response that starts at byte `start` of the file and runs on to its end, asked of `via.url` when set (the
   * signed URL this connection was last sent to), which it updates: each connection keeps its own.
   */
  readonly open: (start: number, via: Via) => Promise<Body>;
  /** The URL the first answer came from: where every connection starts. */
  readonly firstUrl: URL;
  /** Told of every write once it is in the file. */
  readonly onWritten: (segment: Segment, bytes: number) => void;
  /** True while this download wants fewer connections than it has: a connection then ends after its piece. */
  readonly retire: (connection: Connection) => boolean;
  /** False when the size is not known (a server without ranges): the response's end is the file's end. */
  readonly sized: boolean;
  /** The sidecar's bandwidth budget, which every chunk is taken from while it has a cap. */
  readonly limiter?: RateLimiter | undefined;
  readonly policy: RetryPolicy;
  /** False for a stream that cannot be continued: a failure ends the connection at once. */
  readonly retries: boolean;
  readonly signal: AbortSignal;
  /** The source as a person reads it, for the "HTML page" error. */
  readonly label: string;
}

/** A response's body: Node's (the probe's, a fallback's) or one read in place into the batches (raw-http.ts). */
export type Body = IncomingMessage | RawResponse;

/** Where a connection's next request goes: a signed URL it was redirected to, or (undefined) the source again. */
export interface Via {
  url: URL | undefined;
}

export class Connection {
  readonly #context: ConnectionContext;
  readonly #via: Via;
  readonly #writer: SegmentWriter;
  #res: Body | undefined;
  #lease: Lease | undefined;
  /** Every lease this connection holds: the current one, and those it ran on from, until their bytes are written. */
  #held: Lease[] = [];
  /** When the last byte arrived (for the stall check) and the bytes since the rate was last taken. */
  lastDataAt = Date.now();
  #bytesSinceRate = 0;
  /** Set while the cap holds the response paused. */
  #throttle: Waiter | undefined;
  /** Ends the current response, once its data is written; set while one streams. */
  #endResponse: (() => void) | undefined;
  /** Asked to stop (fewer connections wanted now): it ends its response and takes no more work. */
  #stopping = false;
  #rateAt = Date.now();

  constructor(context: ConnectionContext) {
    this.#context = context;
    this.#via = { url: context.firstUrl };
    this.#writer = new SegmentWriter(context.handle, context.onWritten, () => this.#writable(), context.lane);
  }

  /** The writer caught up, or failed: a paused response goes on, or ends with the write's error. */
  #writable(): void {
    const error = this.#writer.error;
    if (error === undefined) {
      if (this.#throttle === undefined) this.#res?.resume();
    } else this.#res?.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  /** True while the cap holds this connection's response paused. */
  get throttled(): boolean {
    return this.#throttle !== undefined;
  }

  /** Pauses `res` for `ms` (the cap's answer), then lets it go on unless the disk is behind. */
  #hold(res: Body, limiter: RateLimiter, ms: number): void {
    res.pause();
    this.#throttle = limiter.wait(ms, () => {
      this.#throttle = undefined;
      this.lastDataAt = Date.now();
      if (this.#res === res && this.#writer.backlog < HIGH_WATER_BYTES) res.resume();
    });
  }

  #release(): void {
    if (this.#throttle === undefined) return;
    this.#context.limiter?.cancel(this.#throttle);
    this.#throttle = undefined;
  }

  /** True while a response is streaming into the file. */
  get receiving(): boolean {
    return this.#res !== undefined;
  }

  /**
   * Stops now rather than at the end of its piece (a lowered connections_per_file): the response ends once
   * what it brought is written, and the rest of the piece is left to the other connections.
   */
  stop(): void {
    this.#stopping = true;
    this.#endResponse?.();
  }

  /** Drops the current response with `error` (a stall): the connection retries from its last written byte. */
  drop(error: Error): void {
    this.#res?.destroy(error);
  }

  /** Writes what is gathered (a slow connection); updates the lease's rate for the schedule's stealing. */
  tick(now: number): void {
    this.#writer.flush();
    if (this.#lease && now - this.#rateAt >= 1000) {
      this.#lease.rate = (this.#bytesSinceRate * 1000) / (now - this.#rateAt);
      this.#bytesSinceRate = 0;
      this.#rateAt = now;
    }
  }

  /** Runs until no work is left for it; `first` is a response from byte 0, used if the first piece starts there. */
  async run(first?: Body): Promise<void> {
    const { schedule, retire } = this.#context;
    let initial = first;
    try {
      for (let lease = schedule.take(); lease; lease = retire(this) ? undefined : schedule.take()) {
        this.#held.push(lease);
        if (initial && lease.received !== 0) initial.destroy();
        await this.#fetch(lease, lease.received === 0 ? initial : undefined);
        initial = undefined;
        this.#releaseAll();
      }
    } finally {
      initial?.destroy();
      this.#releaseAll();
      this.#writer.letGo();
    }
  }

  #releaseAll(): void {
    for (const lease of this.#held) this.#context.schedule.release(lease);
    this.#held = [];
    this.#lease = undefined;
  }

  /** Fetches `lease`'s bytes (and the pieces it runs on into), retrying from the last byte written. */
  async #fetch(lease: Lease, initial: Body | undefined): Promise<void> {
    const { open, policy, signal } = this.#context;
    this.#lease = lease;
    let res = initial;
    const work = async () => {
      for (;;) {
        if (this.#stopping) return;
        const current = this.#lease!;
        // after a failure: on from the last byte in the file, not the last one received
        current.received = current.segment.start + current.segment.done;
        if (current.received > current.segment.end) return;
        res ??= await open(current.received, this.#via);
        const streaming = res;
        res = undefined;
        const more = await this.#stream(streaming);
        if (!more || this.#stopping) return;
      }
    };
    await (this.#context.retries ? retryingDownload(policy, work, () => this.#lease!.segment.done, signal) : work());
  }

  /**
   * True while the lease has room; a full one runs on into the next piece when it directly follows, nobody
   * holds it, and this connection is not retiring; false when the response has nothing more to give here.
   */
  #runOn(): boolean {
    const lease = this.#lease!;
    if (lease.received <= lease.segment.end) return true;
    const next = this.#context.retire(this) ? undefined : this.#context.schedule.next(lease);
    if (!next) return false;
    this.#held.push(next);
    this.#lease = next;
    return true;
  }

  /**
   * Streams `res` into the file until the lease's range (and the ones it ran on into) is full or the response
   * ends; resolves once every byte is in the file, true when the response ended before the range did.
   */
  #stream(res: Body): Promise<boolean> {
    const { sized, label, limiter } = this.#context;
    return new Promise<boolean>((resolve, reject) => {
      let ended = false;
      const finish = (error?: unknown) => {
        if (ended) return;
        ended = true;
        if (!("raw" in res)) res.off("data", onData);
        this.#res = undefined;
        this.#endResponse = undefined;
        this.#release();
        const full = this.#lease!.received > this.#lease!.segment.end;
        if (!full || "raw" in res || !res.complete) res.destroy();
        const failure = error ?? this.#writer.error;
        this.#writer.drained().then(
          () => (failure === undefined ? resolve(!full) : reject(failure)),
          (writeError: unknown) => reject(failure ?? writeError),
        );
      };
      const html = () => new DownloadError(`Got an HTML page instead of the model from ${label} (a login or error page?)`);
      /** After each arrival: on into the next piece, or the end; paused while the disk is behind or the cap says wait. */
      const step = (bytes: number) => {
        if (this.#writer.error !== undefined) return finish();
        if (this.#writer.backlog >= HIGH_WATER_BYTES) res.pause();
        if (!this.#runOn()) return finish();
        // the cap: one property read per chunk without one
        if (limiter?.limited) {
          const wait = limiter.take(bytes);
          if (wait > 0) this.#hold(res, limiter, wait);
        }
      };
      const onData = (chunk: Buffer) => {
        this.lastDataAt = Date.now();
        this.#bytesSinceRate += chunk.length;
        let offset = 0;
        while (offset < chunk.length) {
          if (!this.#runOn()) return finish();
          const lease = this.#lease!;
          const take = Math.min(chunk.length - offset, lease.segment.end + 1 - lease.received);
          const piece = offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take);
          if (lease.received === 0 && looksLikeHtml(undefined, piece)) return finish(html());
          this.#writer.add(lease.segment, lease.received, piece);
          lease.received += take;
          offset += take;
        }
        step(chunk.length);
      };
      const onEnd = (error?: Error) => {
        if (error) return finish(error);
        const lease = this.#lease!;
        if (sized && lease.received <= lease.segment.end) {
          return finish(new DownloadError("The connection closed before the end of the data", { retryable: true }));
        }
        if (!sized) lease.segment.end = lease.received - 1;
        finish();
      };
      if ("raw" in res) {
        // each read lands in its place in a batch, never past the piece being filled
        res.read({
          region: () => {
            const lease = this.#lease;
            return this.#writer.region(lease ? lease.segment.end + 1 - lease.received : 1);
          },
          data: (bytes, region) => {
            this.lastDataAt = Date.now();
            this.#bytesSinceRate += bytes;
            const lease = this.#lease!;
            if (lease.received === 0 && looksLikeHtml(undefined, region.subarray(0, bytes))) return finish(html());
            this.#writer.filled(lease.segment, lease.received, bytes);
            lease.received += bytes;
            step(bytes);
          },
          end: onEnd,
        });
      } else {
        res.on("data", onData);
        res.once("end", () => onEnd());
        res.once("error", (error) => finish(error));
        res.once("close", () => finish(res.complete ? undefined : new DownloadError("The connection closed before the end of the data", { retryable: true })));
      }
      this.#res = res;
      this.#endResponse = () => finish();
      this.lastDataAt = Date.now();
    });
  }
}
