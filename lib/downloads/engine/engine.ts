import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, rename, rm, stat, statfs, type FileHandle } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { controlPath, partPath, removePartial } from "../../catalog/partial";
import { removeStrayTemps } from "../../fs/atomic-write";
import { writeAll } from "../../fs/write-all";
import { bytesDone, loadControl, plan, saveControl, segmentLength, type Control, type Segment } from "./control";
import { asDownloadError, CancelledError, DownloadError } from "./errors";
import { openDownload, type Opened } from "./http";
import { claimedOn, stake } from "./room";
import type { Source } from "./source";

export interface DownloadJob {
  readonly target: string;
  readonly source: Source;
  /** From the catalog; Hugging Face's X-Linked-Etag is used when the catalog has none. */
  readonly sha256: string | undefined;
  readonly connections: number;
  readonly stallMs: number;
  readonly retryBaseMs: number;
  readonly maxAttempts: number;
  readonly hasCivitaiKey: boolean;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

export interface DownloadResult {
  readonly bytes: number;
  /** Bytes that were already on disk from an earlier attempt. */
  readonly resumedFrom: number;
  readonly sha256: string | undefined;
  readonly verified: boolean;
}

// Larger writes gain nothing measurable, and buffers held longer outlive V8's young generation: at
// 2 MiB per connection the sidecar's peak memory was 60 MB higher (2 GiB over 8 connections, loopback).
const FLUSH_BYTES = 512 * 1024;
// On a slow connection 512 KiB can take seconds to fill: data is written at least this often, so that a
// checkpoint can claim it.
const FLUSH_MS = 250;
// What a crash can cost: the progress since the last checkpoint (and data not yet written), fetched again
// on resume. At 1 s, a sidecar killed every second or two fetched nearly twice the file (test/fault).
const CHECKPOINT_MS = 500;
// But a checkpoint syncs the part, and on a fast link that takes long (the page cache fills faster than
// the disk drains it): checkpoints then come further apart, so that syncing takes at most a tenth of the
// time. Every 500 ms regardless made a 2 GiB unthrottled download 1.5x slower (npm run bench).
const CHECKPOINT_SHARE = 0.1;
// Opened with O_NOFOLLOW: a link planted at `<file>.part` is refused, never written through.
const PART_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;

/** Sizes as the catalog gives them (GiB, two decimals); under 1 GiB in MiB, where 0.01 GiB says too little. */
const gib = (bytes: number): string =>
  bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

interface Probe {
  readonly opened: Opened;
  readonly ranges: boolean;
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

function describe(opened: Opened): Probe {
  const { res } = opened;
  const header = (name: string) => {
    const value = res.headers[name];
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const total = /^bytes 0-\d+\/(\d+)$/.exec(header("content-range") ?? "")?.[1];
  const length = header("content-length");
  const ranges = res.statusCode === 206 && total !== undefined;
  const size = ranges ? Number(total) : length !== undefined ? Number(length) : opened.linkedSize;
  const etag = header("etag");
  return {
    opened,
    ranges,
    size: size !== undefined && Number.isSafeInteger(size) && size > 0 ? size : undefined,
    // a weak ETag cannot validate a byte range (RFC 9110)
    etag: etag?.startsWith("W/") ? undefined : etag,
    lastModified: header("last-modified"),
  };
}

function looksLikeHtml(contentType: string | undefined, firstBytes: Buffer): boolean {
  if (contentType !== undefined && /text\/html/i.test(contentType)) return true;
  return /^\s*(<!doctype html|<html)/i.test(firstBytes.subarray(0, 256).toString("latin1"));
}

/**
 * One model download: `.part` + control file beside the target, several ranges at once when the server
 * takes them, resumable after any crash, checked for size and SHA256, then synced and renamed into place.
 */
export class Download {
  readonly #job: DownloadJob;
  readonly #part: string;
  readonly #controlFile: string;
  #done = 0;
  #total = 0;
  #releaseRoom: () => void = () => undefined;

  constructor(job: DownloadJob) {
    this.#job = job;
    this.#part = partPath(job.target);
    this.#controlFile = controlPath(job.target);
  }

  /** Bytes on disk so far (resumed ones included) and the size, 0 while unknown. */
  get progress(): { done: number; total: number } {
    return { done: this.#done, total: this.#total };
  }

  async run(): Promise<DownloadResult> {
    try {
      return await this.#run();
    } finally {
      this.#releaseRoom();
    }
  }

  async #run(): Promise<DownloadResult> {
    await mkdir(path.dirname(this.#job.target), { recursive: true });
    for (let restarts = 1; ; restarts++) {
      try {
        return await this.#attempt();
      } catch (error) {
        const failure = asDownloadError(error);
        if (!(failure instanceof DownloadError && failure.restart) || restarts >= this.#job.maxAttempts) throw failure;
        this.#job.log(`${failure.message}; starting over from byte 0`);
        await removePartial(this.#job.target);
        await sleep(this.#job.retryBaseMs * (0.5 + Math.random() / 2), undefined, { signal: this.#job.signal }).catch(() => {
          throw new CancelledError();
        });
      }
    }
  }

  async #attempt(): Promise<DownloadResult> {
    const job = this.#job;
    // a sidecar killed while it saved progress leaves a temp file beside the control file
    await removeStrayTemps(this.#controlFile);
    let control = await loadControl(this.#controlFile, job.source.key, job.log);
    // a claim is only as good as the data beside it: no `.part` of the full size, nothing to continue
    const partSize = (await lstat(this.#part).catch(() => undefined))?.size;
    if (control && partSize !== control.size) control = undefined;
    const probe = await this.#retrying(
      () => 0,
      async () => describe(await openDownload(job.source, { range: { start: 0 }, signal: job.signal }, job.hasCivitaiKey)),
    );
    const { opened } = probe;
    try {
      const contentType = opened.res.headers["content-type"];
      if (contentType !== undefined && /text\/html/i.test(contentType)) {
        throw new DownloadError(`Got an HTML page instead of the model from ${job.source.label} (a login or error page?)`);
      }
      if (control && (control.size !== probe.size || changed(control, probe))) {
        job.log("the upstream file changed since the partial download; starting over");
        control = undefined;
      }
      const sha256 = job.sha256?.toLowerCase() ?? opened.linkedSha256;
      if (probe.size !== undefined) await this.#checkSpace(probe.size - (control ? bytesDone(control) : 0));

      if (!probe.ranges || probe.size === undefined) {
        if (control) job.log("the server does not resume (no byte ranges); starting over");
        return await this.#whole(probe, sha256).catch((error: unknown) => this.#diskFull(error, false));
      }
      return await this.#ranged(probe, control, sha256).catch((error: unknown) => this.#diskFull(error, true));
    } finally {
      // handed on to the first range, or not needed: either way its socket is not left open
      opened.res.destroy();
    }
  }

  /**
   * Fails before the first byte when `need` does not fit in what is free less what the other downloads
   * on this filesystem have yet to write; else claims `need` until the download ends.
   */
  async #checkSpace(need: number): Promise<void> {
    this.#releaseRoom();
    const dir = path.dirname(this.#job.target);
    const [fs, { dev }] = await Promise.all([statfs(dir), stat(dir)]);
    const free = fs.bavail * fs.bsize;
    const others = claimedOn(dev);
    const have = Math.max(0, free - others.bytes);
    if (have < need) {
      const promised =
        others.downloads > 0 ? ` (${gib(free)} free, ${gib(others.bytes)} of it still to come for ${others.downloads} other download${others.downloads === 1 ? "" : "s"} in progress)` : "";
      throw new DownloadError(`Not enough disk space: need ${gib(need)}, have ${gib(have)}${promised}`);
    }
    // until the size is known (#ranged, #whole set it), the need stands for what is to come
    this.#releaseRoom = stake({ device: dev, outstanding: () => (this.#total > 0 ? this.#total - this.#done : need) });
  }

  /**
   * The disk filled up on the way (the size was unknown, or something else took the room): said in words,
   * with what became of the partial. A stream's cannot be continued and goes, so that it does not keep the
   * disk full; ranges' are kept, and resume once there is room and the model is queued again.
   */
  async #diskFull(error: unknown, resumable: boolean): Promise<never> {
    if (!isDiskFull(error)) throw error;
    if (!resumable) await removePartial(this.#job.target);
    const of = this.#total > 0 ? ` of ${gib(this.#total)}` : "";
    const partial = resumable ? "the partial download is kept and resumes when there is room" : "the partial download was removed";
    throw new DownloadError(`The disk is full: no room left in ${path.dirname(this.#job.target)} after ${gib(this.#done)}${of}; ${partial}`, {
      cause: error,
    });
  }

  /** A server without byte ranges: one stream from the start, hashed on the way in. */
  async #whole(probe: Probe, sha256: string | undefined): Promise<DownloadResult> {
    // nothing of a stream can be continued: no control file may claim what is in the part
    await rm(this.#controlFile, { force: true });
    const handle = await open(this.#part, PART_FLAGS | constants.O_TRUNC, 0o644);
    try {
      this.#total = probe.size ?? 0;
      this.#done = 0;
      const hash = createHash("sha256");
      const segment: Segment = { start: 0, end: (probe.size ?? Number.MAX_SAFE_INTEGER) - 1, done: 0 };
      // without byte ranges a broken connection cannot be continued, only started again
      await this.#pump(probe.opened.res, segment, handle, hash).catch((error: unknown) => {
        const failure = asDownloadError(error);
        if (failure instanceof DownloadError && failure.retryable) {
          throw new DownloadError(failure.message, { retryable: true, restart: true, cause: error });
        }
        throw failure;
      });
      if (probe.size !== undefined && segment.done !== probe.size) {
        throw new DownloadError(`Size mismatch: expected ${probe.size} bytes, got ${segment.done}`, { retryable: true, restart: true });
      }
      this.#total = segment.done;
      return await this.#finish(handle, segment.done, 0, sha256, hash);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async #ranged(probe: Probe, resumed: Control | undefined, sha256: string | undefined): Promise<DownloadResult> {
    const job = this.#job;
    const size = probe.size as number;
    const control: Control = resumed ?? {
      version: 1,
      key: job.source.key,
      size,
      ...(probe.etag !== undefined && { etag: probe.etag }),
      ...(probe.lastModified !== undefined && { lastModified: probe.lastModified }),
      segments: plan(size, job.connections),
    };
    const handle = await open(this.#part, PART_FLAGS | (resumed ? 0 : constants.O_TRUNC), 0o644);
    try {
      const resumedFrom = bytesDone(control);
      this.#total = size;
      this.#done = resumedFrom;
      if (resumed) job.log(`resuming at ${gib(resumedFrom)} of ${gib(size)}`);
      else await handle.truncate(size);
      await saveControl(this.#controlFile, control);
      await this.#segments(probe, control, handle);
      return await this.#finish(handle, size, resumedFrom, sha256, undefined);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * Every range at once; one failing stops the others at once, and all of them have let go of the file
   * before this returns (the caller closes it).
   */
  async #segments(probe: Probe, control: Control, handle: FileHandle): Promise<void> {
    const job = this.#job;
    const stop = new AbortController();
    const signal = AbortSignal.any([job.signal, stop.signal]);
    let saving: Promise<void> = Promise.resolve();
    let queued = 0;
    const save = () => {
      // a slow disk: the checkpoint waiting behind the running one will take the latest progress anyway
      if (queued > 1) return;
      queued += 1;
      saving = saving
        .then(() => this.#checkpoint(handle, control))
        .catch((error: Error) => job.log(`could not save progress: ${error.message}`))
        .finally(() => (queued -= 1));
    };
    let checkpoint: NodeJS.Timeout | undefined;
    let ended = false;
    const next = (afterMs: number) => {
      checkpoint = setTimeout(() => {
        const started = Date.now();
        save();
        void saving.then(() => {
          if (!ended) next(Math.max(CHECKPOINT_MS, ((Date.now() - started) * (1 - CHECKPOINT_SHARE)) / CHECKPOINT_SHARE));
        });
      }, afterMs);
    };
    next(CHECKPOINT_MS);
    const validator = probe.etag ?? probe.lastModified;
    // the probe already streams from byte 0: it serves the first range if that one has not started
    const first = control.segments[0]!;
    const initial = first.start === 0 && first.done === 0 ? probe.opened.res : undefined;
    if (!initial) probe.opened.res.destroy();
    signal.addEventListener("abort", () => initial?.destroy(), { once: true });
    let failure: unknown;
    try {
      const results = await Promise.allSettled(
        control.segments.map((segment, i) =>
          this.#segment(segment, handle, i === 0 ? initial : undefined, probe.opened.url, validator, signal).catch(
            (error: unknown) => {
              failure ??= error;
              stop.abort();
              throw error;
            },
          ),
        ),
      );
      // the cause is the first range's failure, not the "cancelled" of the ranges it stopped
      if (results.some((result) => result.status === "rejected")) throw job.signal.aborted ? new CancelledError() : failure;
    } finally {
      ended = true;
      clearTimeout(checkpoint);
      if (!job.signal.aborted) save();
      await saving;
    }
  }

  async #checkpoint(handle: FileHandle, control: Control): Promise<void> {
    // snapshot first, sync second: the control file never claims a byte that is not on disk
    const snapshot: Control = { ...control, segments: control.segments.map((s) => ({ ...s })) };
    await handle.datasync();
    await saveControl(this.#controlFile, snapshot);
  }

  async #segment(
    segment: Segment,
    handle: FileHandle,
    initial: IncomingMessage | undefined,
    firstUrl: URL,
    validator: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const job = this.#job;
    let res = initial;
    let via: URL | undefined = firstUrl;
    await this.#retrying(
      () => segment.done,
      async () => {
        while (segment.done < segmentLength(segment)) {
          if (!res) {
            const start = segment.start + segment.done;
            const opened = await openDownload(
              job.source,
              { range: { start, end: segment.end }, ...(validator !== undefined && { ifRange: validator }), ...(via && { via }), signal },
              job.hasCivitaiKey,
            ).catch((error: unknown) => {
              if (error instanceof DownloadError && error.reResolve) via = undefined;
              throw error;
            });
            via = opened.url;
            res = opened.res;
            const range = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1];
            if (res.statusCode !== 206 || Number(range) !== start) {
              res.destroy();
              throw new DownloadError("The upstream file changed, or the server stopped honouring byte ranges", { restart: true });
            }
          }
          const current = res;
          res = undefined;
          await this.#pump(current, segment, handle, undefined);
        }
      },
      signal,
    );
  }

  /** Streams one response into the file at its segment's position, in large writes, until the segment is full. */
  async #pump(res: IncomingMessage, segment: Segment, handle: FileHandle, hash: Hash | undefined): Promise<void> {
    const { stallMs } = this.#job;
    const length = segmentLength(segment);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let flushedAt = Date.now();
    const flush = async () => {
      flushedAt = Date.now();
      if (pendingBytes === 0) return;
      const buffers = pending;
      const bytes = pendingBytes;
      pending = [];
      pendingBytes = 0;
      await writeAll(handle, buffers, segment.start + segment.done);
      if (hash) for (const buffer of buffers) hash.update(buffer);
      segment.done += bytes;
      this.#done += bytes;
    };
    let stall = setTimeout(() => undefined, 0);
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(
        () => res.destroy(new DownloadError(`No data for ${stallMs / 1000} s`, { retryable: true })),
        stallMs,
      );
    };
    armStall();
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        armStall();
        const room = length - segment.done - pendingBytes;
        const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
        if (segment.done === 0 && pendingBytes === 0 && segment.start === 0 && looksLikeHtml(undefined, piece)) {
          throw new DownloadError(`Got an HTML page instead of the model from ${this.#job.source.label} (a login or error page?)`);
        }
        pending.push(piece);
        pendingBytes += piece.length;
        if (pendingBytes >= FLUSH_BYTES || segment.done + pendingBytes >= length || Date.now() - flushedAt >= FLUSH_MS) {
          clearTimeout(stall);
          await flush();
          armStall();
        }
        if (segment.done >= length) break;
      }
      await flush();
    } catch (error) {
      await flush().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(stall);
      res.destroy();
    }
    if (segment.done < length && length !== Number.MAX_SAFE_INTEGER) {
      throw new DownloadError("The connection closed before the end of the data", { retryable: true });
    }
  }

  /** Runs `work` until it succeeds, retrying what is worth retrying with jittered exponential back-off. */
  async #retrying<T>(progressOf: () => number, work: () => Promise<T>, signal = this.#job.signal): Promise<T> {
    const { maxAttempts, retryBaseMs, log } = this.#job;
    let attempts = 0;
    let before = progressOf();
    for (;;) {
      try {
        return await work();
      } catch (error) {
        const failure = asDownloadError(error);
        if (failure instanceof CancelledError || signal.aborted) throw new CancelledError();
        if (!failure.retryable || failure.restart) throw failure;
        // a try that moved data forward does not count against the limit
        if (progressOf() > before) attempts = 0;
        before = progressOf();
        attempts += 1;
        if (attempts >= maxAttempts) throw new DownloadError(`Gave up after ${attempts} tries: ${failure.message}`);
        const backoff = Math.min(30_000, retryBaseMs * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
        const wait = Math.min(300_000, Math.max(backoff, failure.retryAfterMs ?? 0));
        log(`${failure.message}; retry ${attempts} of ${maxAttempts - 1} in ${(wait / 1000).toFixed(1)} s`);
        await sleep(wait, undefined, { signal }).catch(() => {
          throw new CancelledError();
        });
      }
    }
  }

  /** Size, content and checksum checked, data synced, then the one rename that makes the model appear. */
  async #finish(
    handle: FileHandle,
    size: number,
    resumedFrom: number,
    expected: string | undefined,
    inlineHash: Hash | undefined,
  ): Promise<DownloadResult> {
    const stat = await handle.stat();
    if (stat.size !== size) {
      throw new DownloadError(`Size mismatch: expected ${size} bytes, found ${stat.size}`, { restart: true });
    }
    const head = Buffer.alloc(256);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (looksLikeHtml(undefined, head.subarray(0, bytesRead))) {
      await removePartial(this.#job.target);
      throw new DownloadError(`Got an HTML page instead of the model from ${this.#job.source.label} (a login or error page?)`);
    }
    let actual: string | undefined;
    if (expected !== undefined) {
      actual = inlineHash ? inlineHash.digest("hex") : await hashFile(handle, size, this.#job.signal);
      if (actual !== expected) {
        await removePartial(this.#job.target);
        throw new DownloadError(`Checksum mismatch: expected SHA256 ${expected}, got ${actual}; the download was discarded`);
      }
    }
    await handle.datasync();
    // a cancel that arrived while the data was synced wins: the file never appears
    if (this.#job.signal.aborted) throw new CancelledError();
    await rename(this.#part, this.#job.target);
    await removePartial(this.#job.target);
    await syncDir(path.dirname(this.#job.target));
    return { bytes: size, resumedFrom, sha256: actual, verified: actual !== undefined };
  }
}

function isDiskFull(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if ((e as NodeJS.ErrnoException).code === "ENOSPC") return true;
  return false;
}

const changed = (control: Control, probe: Probe): boolean =>
  (control.etag !== undefined && probe.etag !== undefined && control.etag !== probe.etag) ||
  (control.lastModified !== undefined && probe.lastModified !== undefined && control.lastModified !== probe.lastModified);

async function hashFile(handle: FileHandle, size: number, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let position = 0; position < size; ) {
    if (signal.aborted) throw new CancelledError();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest("hex");
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}
