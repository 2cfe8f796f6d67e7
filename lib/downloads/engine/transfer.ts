/**
 * The transfer of a download's bytes: its connections (connection.ts) over the schedule's pieces
 * (schedule.ts), as many as the governor finds useful (governor.ts), and a tick every 100 ms that keeps the
 * rest moving with the data: stalled connections dropped, slow ones' data written, the hash told how far the
 * file is written (hasher.ts), and progress checkpointed with the data synced (checkpoints.ts).
 * One connection failing for good stops the others at once; all of them have let go of the file before
 * this returns.
 */
import { setMaxListeners } from "node:events";
import type { FileHandle } from "node:fs/promises";
import { MAX_CONNECTIONS } from "../../state/settings";
import { Checkpointer } from "./checkpoints";
import { Connection, type Body, type ConnectionContext, type Via } from "./connection";
import { segmentLength, type Control, type Segment } from "./control";
import { CancelledError, DownloadError } from "./errors";
import { ConnectionGovernor } from "./governor";
import type { PrefixHasher } from "./hasher";
import { openDownload, openRawRange } from "./http";
import type { DownloadJob } from "./job";
import type { Probe } from "./probe";
import { downloadPolicy } from "./retry";
import { PIECE_BYTES, RangeSchedule } from "./schedule";
import { WriteLane } from "./writer";

const TICK_MS = 100;

export interface Transfer {
  readonly job: DownloadJob;
  readonly probe: Probe;
  /** What to fetch: the control's segments (changed in place), or one segment for a server without ranges. */
  readonly segments: Segment[];
  readonly handle: FileHandle;
  readonly hasher: PrefixHasher;
  /** The control file's content, checkpointed as the data comes; undefined when nothing can be resumed. */
  readonly control: Control | undefined;
  readonly controlFile: string;
  /** Told of every write once it is in the file. */
  readonly onWritten: (bytes: number) => void;
  /** Bytes written so far, resumed ones included. */
  readonly written: () => number;
}

export async function transfer(t: Transfer): Promise<void> {
  const { job, probe, handle, hasher } = t;
  const sized = t.control !== undefined || probe.size !== undefined;
  const stop = new AbortController();
  const signal = AbortSignal.any([job.signal, stop.signal]);
  // each connection's request and back-off listen to it: more than Node's default of 10 is expected
  setMaxListeners(4 * Math.max(job.connections, MAX_CONNECTIONS) + 8, signal);
  const schedule = new RangeSchedule(t.segments);
  const checkpointer = new Checkpointer({ handle, control: t.control, file: t.controlFile, log: job.log });
  // a few round trips of the link per measurement: the first answer's delay stands for one
  // the settings' connections_per_file, read on every tick: a change reaches the download within 100 ms. While
  // the cap holds connections back, no more are added: one would only take budget from the other downloads
  // (and look like a gain to the governor), not add any.
  const live = job.live;
  const max: () => number = !t.control ? () => 1 : !live ? () => job.connections : (): number => (live.limiter.waiting > 0 ? Math.min(governor.wanted, live.connections) : live.connections);
  const governor = new ConnectionGovernor({ max, windowMs: Math.min(2000, Math.max(250, 4 * probe.firstByteMs)) });
  const connections = new Set<Connection>();
  const retiring = new Set<Connection>();
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const context: ConnectionContext = {
    schedule,
    handle,
    lane: new WriteLane(),
    open: (start, via) => openAt(t, via, start, signal),
    // the URL the first answer came from (a signed one, say): later requests skip the redirect
    firstUrl: probe.opened.url,
    onWritten: (segment, bytes) => {
      t.onWritten(bytes);
      checkpointer.written(t.written());
      if (segment.done === segmentLength(segment)) hasher.advance(schedule.prefix);
    },
    retire: (connection) => {
      if (retiring.has(connection)) return true;
      if (connections.size - retiring.size <= governor.wanted) return false;
      retiring.add(connection);
      return true;
    },
    sized,
    limiter: job.live?.limiter,
    policy: downloadPolicy(job),
    // a stream without ranges cannot be continued: its caller starts it again instead
    retries: t.control !== undefined,
    signal,
    label: job.source.label,
  };
  const spawn = (first?: Body) => {
    const connection = new Connection(context);
    connections.add(connection);
    const run: Promise<void> = connection
      .run(first)
      .catch((error: unknown) => {
        failure ??= error;
        stop.abort();
      })
      .finally(() => {
        connections.delete(connection);
        retiring.delete(connection);
        running.delete(run);
      });
    running.add(run);
  };
  const level = { wanted: governor.wanted, at: Date.now(), bytes: t.written() };
  const tick = () => {
    const now = Date.now();
    let receiving = 0;
    for (const connection of connections) {
      connection.tick(now);
      if (!connection.receiving) continue;
      receiving += 1;
      // a connection the cap holds back is not stalled
      if (!connection.throttled && now - connection.lastDataAt > job.stallMs) connection.drop(new DownloadError(`No data for ${job.stallMs / 1000} s`, { retryable: true }));
    }
    const wanted = governor.update(now, t.written(), receiving);
    if (wanted !== level.wanted) {
      const rate = (t.written() - level.bytes) / 1e3 / Math.max(1, now - level.at);
      job.log(`${wanted} connection${wanted === 1 ? "" : "s"} now (${level.wanted} moved ${rate.toFixed(0)} MB/s)`);
      Object.assign(level, { wanted, at: now, bytes: t.written() });
    }
    // a lowered connections_per_file: the connections over it stop now, not at the end of their pieces
    for (const connection of connections) {
      if (connections.size - retiring.size <= max()) break;
      if (retiring.has(connection)) continue;
      retiring.add(connection);
      connection.stop();
    }
    while (!signal.aborted && connections.size - retiring.size < wanted && !schedule.complete && schedule.hasWork) spawn();
    hasher.advance(schedule.prefix);
    checkpointer.written(t.written(), now);
  };

  // the probe already streams from byte 0: the first connection uses it if its piece starts there and the file
  // is one piece; a larger one is read in place from a request of its own (raw-http.ts), at half the CPU
  const useProbe = !t.control || (probe.size ?? 0) <= PIECE_BYTES;
  if (!useProbe) probe.opened.res.destroy();
  spawn(useProbe ? probe.opened.res : undefined);
  stop.signal.addEventListener("abort", () => probe.opened.res.destroy(), { once: true });
  const ticker = setInterval(tick, TICK_MS);
  try {
    while (running.size > 0) {
      await Promise.race(running);
      // every connection retired or ran out of work while some piece was still held: start one more
      if (running.size > 0 || failure !== undefined || signal.aborted || schedule.complete) continue;
      if (!schedule.hasWork) throw new DownloadError("The download stopped with bytes missing and nothing left to fetch them (a bug)");
      spawn();
    }
    // the cause is the first failure, not the "cancelled" of the connections it stopped
    if (job.signal.aborted) throw new CancelledError();
    if (failure !== undefined) throw failure;
    hasher.advance(schedule.prefix);
  } finally {
    clearInterval(ticker);
    stop.abort();
    await Promise.allSettled([...running]);
    // a download stopped to be resumed (a pause, a shutdown) saves its last progress; a cancelled one needs none
    await checkpointer.end(!job.signal.aborted || job.signal.reason !== "cancel");
  }
}

/** A response from byte `start` to the end, from the URL the first answer came from (a signed one, say). */
async function openAt(t: Transfer, via: Via, start: number, signal: AbortSignal): Promise<Body> {
  const { job, probe } = t;
  if (!t.control) throw new DownloadError("The server does not resume (no byte ranges)", { retryable: true, restart: true });
  const validator = probe.etag ?? probe.lastModified;
  const raw = via.url && (await openRawRange(job.source, via.url, start, validator, signal));
  if (raw) return raw;
  const opened = await openDownload(
    job.source,
    { range: { start }, ...(validator !== undefined && { ifRange: validator }), ...(via.url && { via: via.url }), signal },
    job.hasCivitaiKey,
  ).catch((error: unknown) => {
    if (error instanceof DownloadError && error.reResolve) via.url = undefined;
    throw error;
  });
  via.url = opened.url;
  const { res } = opened;
  const range = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1];
  if (res.statusCode !== 206 || Number(range) !== start) {
    res.destroy();
    throw new DownloadError("The upstream file changed, or the server stopped honouring byte ranges", { restart: true });
  }
  return res;
}
