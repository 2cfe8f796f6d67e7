/**
 * The write side of one connection: the socket's chunks gathered into batches of about a MiB, each written
 * with one writev at its place in the part file, one write in flight at a time. A batch is credited to its
 * segment (`done`) only once it is in the file, so that a checkpoint never claims a byte still in memory.
 * Every call is synchronous except `drained`: no promise per chunk on the hot path.
 *
 * The connections of one download share a WriteLane: one write to the file at a time, whichever connection it
 * is for. Writes to one file in parallel gain nothing (the page cache takes a write faster than any link brings
 * it) and cost much: they contend for the file's lock in the kernel. With up to 16 at once (a pool of 16
 * threads), a 2 GiB download took 2.5 s more CPU and 1.3 s more time than with writes one at a time.
 */
import type { FileHandle } from "node:fs/promises";
import { writeAll } from "../../fs/write-all";
import type { Segment } from "./control";

/** Fewer, larger writes cost less CPU; larger than this gained nothing measurable and held more memory. */
export const BATCH_BYTES = 1024 * 1024;
/** A connection whose data waits for the disk beyond this is paused (TCP then slows the sender). */
export const HIGH_WATER_BYTES = 2 * BATCH_BYTES;

/** Spare buffers a lane keeps for its connections' next batches; more are freed. */
const SPARE_BUFFERS = 4;

/**
 * One write at a time to one file: the others wait their turn, in order. It also lends its connections the
 * buffers their sockets read into (raw-http.ts), and takes them back once written: a download reuses a few
 * batches' worth of memory instead of allocating a Buffer for every read.
 */
export class WriteLane {
  #busy = false;
  readonly #waiting: Array<() => void> = [];
  readonly #spare: Buffer[] = [];

  /** A batch's worth of memory to read into. */
  buffer(): Buffer {
    return this.#spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  /** A buffer whose bytes are written and that no read fills any more. */
  give(buffer: Buffer): void {
    if (this.#spare.length < SPARE_BUFFERS) this.#spare.push(buffer);
  }

  /** Runs `start` now if the file is free, else once the writes ahead of it are done. */
  acquire(start: () => void): void {
    if (this.#busy) this.#waiting.push(start);
    else {
      this.#busy = true;
      start();
    }
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy = false;
  }
}

interface Batch {
  readonly segment: Segment;
  readonly position: number;
  readonly buffers: Buffer[];
  bytes: number;
  /** The lane's buffer this batch is part of, when a socket read into it in place. */
  readonly owner?: Filling;
}

/** A lane's buffer a socket reads into: `from` to `at` is the batch filling, before `from` batches cut from it. */
interface Filling {
  readonly memory: Buffer;
  from: number;
  at: number;
  segment: Segment | undefined;
  position: number;
  /** Batches cut from it that are not written yet. */
  pending: number;
}

export class SegmentWriter {
  readonly #handle: Pick<FileHandle, "writev" | "write">;
  readonly #onWritten: (segment: Segment, bytes: number) => void;
  readonly #onDrain: () => void;
  readonly #lane: WriteLane;
  /** Batches waiting, the last one still filling. */
  readonly #queue: Batch[] = [];
  #queued = 0;
  #writing = false;
  #error: unknown;
  #idle: Array<(error: unknown) => void> = [];
  /** The buffer the socket reads into in place, while there is one. */
  #filling: Filling | undefined;

  /**
   * `onWritten` is told of each batch once it is in the file; `onDrain` when the backlog fell under half the
   * high water, or a write failed (a paused connection must then hear of it, not wait for its stall timeout).
   */
  constructor(
    handle: Pick<FileHandle, "writev" | "write">,
    onWritten: (segment: Segment, bytes: number) => void,
    onDrain: () => void,
    lane = new WriteLane(),
  ) {
    this.#handle = handle;
    this.#lane = lane;
    this.#onWritten = onWritten;
    this.#onDrain = onDrain;
  }

  /** Bytes received and not yet in the file. */
  get backlog(): number {
    return this.#queued;
  }

  /** The first write that failed, if one did: nothing more is written after it. */
  get error(): unknown {
    return this.#error;
  }

  /** Adds `chunk`, which belongs at `position` of `segment`. */
  add(segment: Segment, position: number, chunk: Buffer): void {
    const last = this.#queue.at(-1);
    if (last && !last.owner && last.segment === segment && last.position + last.bytes === position && last.bytes < BATCH_BYTES) {
      last.buffers.push(chunk);
      last.bytes += chunk.length;
    } else {
      this.#queue.push({ segment, position, buffers: [chunk], bytes: chunk.length });
    }
    this.#queued += chunk.length;
    if (this.#queue.length > 1 || this.#queue[0]!.bytes >= BATCH_BYTES) this.#next();
  }

  /**
   * Where the socket's next read goes, in place (raw-http.ts): at most `max` bytes (at least 1) of the
   * buffer filling, or of a new one from the lane once it is full. filled() says what arrived there.
   */
  region(max: number): Buffer {
    let filling = this.#filling;
    if (!filling || filling.at === filling.memory.length) {
      filling = { memory: this.#lane.buffer(), from: 0, at: 0, segment: undefined, position: 0, pending: 0 };
      this.#filling = filling;
    }
    return filling.memory.subarray(filling.at, filling.at + Math.max(1, Math.min(max, filling.memory.length - filling.at)));
  }

  /** `bytes` arrived at the last region(), which belong at `position` of `segment`. */
  filled(segment: Segment, position: number, bytes: number): void {
    const filling = this.#filling!;
    const contiguous = filling.segment === segment && filling.position + (filling.at - filling.from) === position;
    if (filling.at > filling.from && !contiguous) this.#cut();
    if (filling.at === filling.from) {
      filling.segment = segment;
      filling.position = position;
    }
    filling.at += bytes;
    this.#queued += bytes;
    if (filling.at === filling.memory.length) {
      this.#cut();
      this.#filling = undefined;
    }
  }

  /** No more reads in place: the buffer filling goes back to the lane once what was cut from it is written. */
  letGo(): void {
    this.#cut();
    const filling = this.#filling;
    this.#filling = undefined;
    if (filling && filling.pending === 0) this.#lane.give(filling.memory);
  }

  /** The bytes filled in place since the last cut become a batch of their own, queued for writing. */
  #cut(): void {
    const filling = this.#filling;
    if (!filling || filling.at === filling.from) return;
    const bytes = filling.at - filling.from;
    filling.pending += 1;
    this.#queue.push({ segment: filling.segment!, position: filling.position, buffers: [filling.memory.subarray(filling.from, filling.at)], bytes, owner: filling });
    filling.from = filling.at;
    this.#next();
  }

  /** Writes what is gathered even if it is less than a batch (a slow connection, the end of a range). */
  flush(): void {
    this.#cut();
    if (this.#queue.length > 0) this.#next(true);
  }

  /** Resolves once everything added is in the file; rejects with the write's error if one failed. */
  drained(): Promise<void> {
    this.flush();
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#idle.push((error) => (error === undefined ? resolve() : reject(error))));
  }

  #next(partial = false): void {
    if (this.#writing || this.#error !== undefined) return;
    const batch = this.#queue[0];
    // a batch cut from a buffer read into in place is whole; one gathered from chunks waits to be a batch
    if (!batch || (!partial && this.#queue.length === 1 && !batch.owner && batch.bytes < BATCH_BYTES)) return;
    this.#writing = true;
    this.#lane.acquire(() => {
      // what is first once the file is free: the batch may have grown while it waited
      const first = this.#queue.shift()!;
      writeAll(this.#handle, first.buffers, first.position).then(
        () => {
          this.#lane.release();
          this.#done(first);
        },
        (error: unknown) => {
          this.#lane.release();
          this.#failed(error);
        },
      );
    });
  }

  #done(batch: Batch): void {
    this.#writing = false;
    const before = this.#queued;
    this.#queued -= batch.bytes;
    batch.segment.done += batch.bytes;
    const owner = batch.owner;
    if (owner && --owner.pending === 0 && owner !== this.#filling) this.#lane.give(owner.memory);
    this.#onWritten(batch.segment, batch.bytes);
    if (before >= HIGH_WATER_BYTES / 2 && this.#queued < HIGH_WATER_BYTES / 2) this.#onDrain();
    // a batch still filling waits for more data, unless someone waits for the writes to end
    this.#next(this.#idle.length > 0);
    if (!this.#writing && this.#queue.length === 0) this.#settle(undefined);
  }

  #failed(error: unknown): void {
    this.#writing = false;
    this.#error = error;
    this.#onDrain();
    this.#settle(error);
  }

  #settle(error: unknown): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const wake of idle) wake(error);
  }
}
