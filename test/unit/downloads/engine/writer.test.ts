/**
 * The write side of a connection (writer.ts): the bytes land where they belong in the part file, a segment
 * is credited only once its bytes are in the file (a checkpoint reads `done`), a connection is paused while
 * the disk is behind and resumed when it caught up, and a failed write stops the crediting for good.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Segment } from "../../../../lib/downloads/engine/control";
import { BATCH_BYTES, HIGH_WATER_BYTES, SegmentWriter, WriteLane } from "../../../../lib/downloads/engine/writer";
import { makeTempDir, removeTempDir } from "../../helpers";

const KiB = 1024;
const settle = () => new Promise((resolve) => setImmediate(resolve));
/** `length` bytes for a disk that only counts them. */
const bytes = (length: number, seed: number) => Buffer.alloc(length, seed % 256);

/** A disk whose writes end when the test says: each writev waits in `writes` to be finished or failed. */
function heldDisk() {
  const writes: Array<{ position: number; length: number; done: () => void; fail: (error: Error) => void }> = [];
  const writev = vi.fn(
    (buffers: Buffer[], position: number) =>
      new Promise<{ bytesWritten: number; buffers: Buffer[] }>((resolve, reject) => {
        const length = buffers.reduce((sum, b) => sum + b.length, 0);
        writes.push({ position, length, done: () => resolve({ bytesWritten: length, buffers }), fail: reject });
      }),
  );
  const handle = { writev, write: vi.fn() } as unknown as Pick<FileHandle, "writev" | "write">;
  return { handle, writev, writes };
}

const segment = (start: number, end: number): Segment => ({ start, end, done: 0 });

describe("SegmentWriter on a real part file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  it("puts every byte at its place, across pieces run on into and two connections writing at once", async () => {
    const size = 5 * BATCH_BYTES + 12_345;
    const content = randomBytes(size);
    const handle = await open(path.join(dir, "model.bin.part"), "w+");
    const [first, second, third] = [segment(0, 2 * BATCH_BYTES - 1), segment(2 * BATCH_BYTES, 3 * BATCH_BYTES + 99), segment(3 * BATCH_BYTES + 100, size - 1)];
    const credited = new Map<Segment, number>();
    const onWritten = (s: Segment, n: number) => credited.set(s, (credited.get(s) ?? 0) + n);
    const [a, b] = [new SegmentWriter(handle, onWritten, () => undefined), new SegmentWriter(handle, onWritten, () => undefined)];
    // socket-sized chunks of odd lengths: connection a runs on from the first piece into the second
    const feed = (writer: SegmentWriter, s: Segment, chunk: number) => {
      for (let at = s.start; at <= s.end; at += chunk) writer.add(s, at, content.subarray(at, Math.min(s.end + 1, at + chunk)));
    };

    feed(a, first, 64 * KiB + 3);
    feed(b, third, 16 * KiB - 1);
    feed(a, second, 100_003);
    await Promise.all([a.drained(), b.drained()]);
    const written = await readFile(path.join(dir, "model.bin.part"));
    await handle.close();

    expect(written.equals(content)).toBe(true);
    for (const s of [first, second, third]) {
      expect(s.done).toBe(s.end - s.start + 1);
      expect(credited.get(s)).toBe(s.done);
    }
    expect(a.backlog + b.backlog).toBe(0);
  });
});

describe("SegmentWriter's crediting", () => {
  it("credits a segment only once its bytes are in the file", async () => {
    const { handle, writes } = heldDisk();
    const piece = segment(0, 4 * BATCH_BYTES - 1);
    const onWritten = vi.fn();
    const writer = new SegmentWriter(handle, onWritten, () => undefined);

    writer.add(piece, 0, bytes(BATCH_BYTES, 1));
    await settle();
    expect(writes).toHaveLength(1);
    expect(piece.done).toBe(0);
    expect(onWritten).not.toHaveBeenCalled();

    writes[0]!.done();
    await settle();
    expect(piece.done).toBe(BATCH_BYTES);
    expect(onWritten).toHaveBeenCalledWith(piece, BATCH_BYTES);
  });

  it("gathers small chunks into one write of about a MiB, and writes a smaller rest only when flushed", async () => {
    const { handle, writes } = heldDisk();
    const piece = segment(0, 4 * BATCH_BYTES - 1);
    const writer = new SegmentWriter(handle, () => undefined, () => undefined);

    for (let at = 0; at < BATCH_BYTES + 32 * KiB; at += 16 * KiB) writer.add(piece, at, bytes(16 * KiB, at));
    await settle();
    expect(writes.map(({ position, length }) => [position, length])).toEqual([[0, BATCH_BYTES]]);

    writes[0]!.done();
    await settle();
    expect(writes).toHaveLength(1);
    writer.flush();
    expect(writes.map(({ position, length }) => [position, length])).toEqual([
      [0, BATCH_BYTES],
      [BATCH_BYTES, 32 * KiB],
    ]);
  });

  it("has one write in flight at a time, in order, and resolves drained() once all are in the file", async () => {
    const { handle, writes } = heldDisk();
    const piece = segment(0, 4 * BATCH_BYTES - 1);
    const writer = new SegmentWriter(handle, () => undefined, () => undefined);
    for (let at = 0; at < 3 * BATCH_BYTES; at += BATCH_BYTES) writer.add(piece, at, bytes(BATCH_BYTES, at));
    let drained = false;
    const draining = writer.drained().then(() => (drained = true));

    for (let i = 0; i < 3; i++) {
      await settle();
      expect(writes).toHaveLength(i + 1);
      expect(writes[i]!.position).toBe(i * BATCH_BYTES);
      expect(drained).toBe(false);
      writes[i]!.done();
    }
    await draining;
    expect(piece.done).toBe(3 * BATCH_BYTES);
  });
});

describe("SegmentWriter's backlog", () => {
  it("counts what waits for the disk, and calls onDrain once when it falls under half the high water", async () => {
    const { handle, writes } = heldDisk();
    const piece = segment(0, 8 * BATCH_BYTES - 1);
    const onDrain = vi.fn();
    const writer = new SegmentWriter(handle, () => undefined, onDrain);
    const batches = HIGH_WATER_BYTES / BATCH_BYTES + 1;
    for (let i = 0; i < batches; i++) writer.add(piece, i * BATCH_BYTES, bytes(BATCH_BYTES, i));
    expect(writer.backlog).toBe(batches * BATCH_BYTES);
    expect(writer.backlog).toBeGreaterThanOrEqual(HIGH_WATER_BYTES);

    const drainedAt: number[] = [];
    for (let i = 0; i < batches; i++) {
      await settle();
      writes[i]!.done();
      await settle();
      if (onDrain.mock.calls.length > drainedAt.length) drainedAt.push(writer.backlog);
    }

    expect(onDrain).toHaveBeenCalledTimes(1);
    expect(drainedAt[0]).toBeLessThan(HIGH_WATER_BYTES / 2);
    expect(drainedAt[0]).toBeGreaterThanOrEqual(HIGH_WATER_BYTES / 2 - BATCH_BYTES);
    expect(writer.backlog).toBe(0);
  });

  it("does not call onDrain for a backlog that never reached half the high water", async () => {
    const { handle, writes } = heldDisk();
    const onDrain = vi.fn();
    const writer = new SegmentWriter(handle, () => undefined, onDrain);

    const under = HIGH_WATER_BYTES / 2 - 1;
    writer.add(segment(0, under - 1), 0, bytes(under, 1));
    writer.flush();
    writes[0]!.done();
    await writer.drained();

    expect(onDrain).not.toHaveBeenCalled();
  });
});

describe("SegmentWriter, the connections of one download", () => {
  it("write to their file one at a time, taking turns, over their shared lane", async () => {
    const { handle, writes } = heldDisk();
    const lane = new WriteLane();
    const first = new SegmentWriter(handle, () => undefined, () => undefined, lane);
    const second = new SegmentWriter(handle, () => undefined, () => undefined, lane);

    const mine = segment(0, 4 * BATCH_BYTES - 1);
    first.add(mine, 0, bytes(BATCH_BYTES, 1));
    first.add(mine, BATCH_BYTES, bytes(BATCH_BYTES, 3));
    second.add(segment(4 * BATCH_BYTES, 8 * BATCH_BYTES - 1), 4 * BATCH_BYTES, bytes(BATCH_BYTES, 2));
    expect(writes.map((w) => w.position)).toEqual([0]);

    writes[0]!.done();
    await new Promise((resolve) => setImmediate(resolve));
    // the second connection's turn came, the first one's next batch waits behind it
    expect(writes.map((w) => w.position)).toEqual([0, 4 * BATCH_BYTES]);
    writes[1]!.done();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.map((w) => w.position)).toEqual([0, 4 * BATCH_BYTES, BATCH_BYTES]);
    writes[2]!.done();
    await Promise.all([first.drained(), second.drained()]);
  });
});

describe("SegmentWriter after a failed write", () => {
  it("tells its connection at once, so that a response paused for the disk does not wait for its stall timeout", async () => {
    const { handle, writes } = heldDisk();
    const onDrain = vi.fn();
    const writer = new SegmentWriter(handle, () => undefined, onDrain);
    writer.add(segment(0, BATCH_BYTES - 1), 0, bytes(BATCH_BYTES, 1));

    writes[0]!.fail(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }));
    await expect(writer.drained()).rejects.toThrow(/ENOSPC/);

    expect(onDrain).toHaveBeenCalledTimes(1);
    expect(writer.error).toBeInstanceOf(Error);
  });

  it("reports the error through drained() and credits nothing more", async () => {
    const { handle, writes, writev } = heldDisk();
    const piece = segment(0, 8 * BATCH_BYTES - 1);
    const onWritten = vi.fn();
    const writer = new SegmentWriter(handle, onWritten, () => undefined);
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    writer.add(piece, 0, bytes(BATCH_BYTES, 1));
    writer.add(piece, BATCH_BYTES, bytes(BATCH_BYTES, 2));
    const waiting = writer.drained();

    writes[0]!.fail(full);
    await expect(waiting).rejects.toBe(full);

    writer.add(piece, 2 * BATCH_BYTES, bytes(2 * BATCH_BYTES, 3));
    writer.flush();
    await settle();
    expect(writer.error).toBe(full);
    await expect(writer.drained()).rejects.toBe(full);
    expect(writev).toHaveBeenCalledTimes(1);
    expect(piece.done).toBe(0);
    expect(onWritten).not.toHaveBeenCalled();
  });

  it("credits the batches written before the failure, and not the one that failed", async () => {
    const { handle, writes } = heldDisk();
    const piece = segment(0, 8 * BATCH_BYTES - 1);
    const writer = new SegmentWriter(handle, () => undefined, () => undefined);
    writer.add(piece, 0, bytes(BATCH_BYTES, 1));
    writer.add(piece, BATCH_BYTES, bytes(BATCH_BYTES, 2));
    writer.flush();

    writes[0]!.done();
    await settle();
    writes[1]!.fail(new Error("EIO: i/o error, write"));

    await expect(writer.drained()).rejects.toThrow("EIO");
    expect(piece.done).toBe(BATCH_BYTES);
  });
});
