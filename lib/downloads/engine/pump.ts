/** Streams one response into the part file at its range's position, in large writes, until the range is full. */
import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { writeAll } from "../../fs/write-all";
import { segmentLength, type Segment } from "./control";
import { DownloadError } from "./errors";
import { looksLikeHtml } from "./probe";

// Larger writes gain nothing measurable, and buffers held longer outlive V8's young generation: at
// 2 MiB per connection the sidecar's peak memory was 60 MB higher (2 GiB over 8 connections, loopback).
const FLUSH_BYTES = 512 * 1024;
// On a slow connection 512 KiB can take seconds to fill: data is written at least this often, so that a
// checkpoint can claim it.
const FLUSH_MS = 250;

export interface PumpOptions {
  /** A connection that sends no byte for this long is dropped (a retryable error). */
  readonly stallMs: number;
  /** The source as a person reads it, for the "HTML page" error. */
  readonly label: string;
  /** Fed the bytes in file order, when the whole file is one stream. */
  readonly hash?: Hash;
  /** Told of every write, once it is in the file. */
  readonly onWritten: (bytes: number) => void;
}

export async function pump(res: IncomingMessage, segment: Segment, handle: FileHandle, options: PumpOptions): Promise<void> {
  const { stallMs, label, hash, onWritten } = options;
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
    onWritten(bytes);
  };
  let stall = setTimeout(() => undefined, 0);
  const armStall = () => {
    clearTimeout(stall);
    stall = setTimeout(() => res.destroy(new DownloadError(`No data for ${stallMs / 1000} s`, { retryable: true })), stallMs);
  };
  armStall();
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      armStall();
      const room = length - segment.done - pendingBytes;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (segment.done === 0 && pendingBytes === 0 && segment.start === 0 && looksLikeHtml(undefined, piece)) {
        throw new DownloadError(`Got an HTML page instead of the model from ${label} (a login or error page?)`);
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
