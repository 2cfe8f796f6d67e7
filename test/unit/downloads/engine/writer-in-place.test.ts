/**
 * The writer's batches read into in place (region / filled, for raw-http.ts): every byte lands at its place
 * whatever the reads' sizes, a piece change within a buffer starts a batch of its own, a batch is credited
 * only once written, and a buffer goes back to the lane (to be read into again) only once all of it is written.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Segment } from "../../../../lib/downloads/engine/control";
import { BATCH_BYTES, SegmentWriter, WriteLane } from "../../../../lib/downloads/engine/writer";
import { makeTempDir, removeTempDir } from "../../helpers";

const segment = (start: number, end: number): Segment => ({ start, end, done: 0 });

/** Reads `content`'s bytes of `s` into the writer's regions, `read` bytes at most each time, as a socket would. */
function readInto(writer: SegmentWriter, s: Segment, content: Buffer, read: number): void {
  for (let at = s.start; at <= s.end; ) {
    const region = writer.region(Math.min(read, s.end + 1 - at));
    const bytes = content.copy(region, 0, at, at + region.length);
    writer.filled(s, at, bytes);
    at += bytes;
  }
}

describe("SegmentWriter, read into in place", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  it("puts every byte at its place: odd reads, a piece run on into, a piece elsewhere, two connections on one lane", async () => {
    const size = 4 * BATCH_BYTES + 777;
    const content = randomBytes(size);
    const handle = await open(path.join(dir, "model.bin.part"), "w+");
    const lane = new WriteLane();
    const credited = new Map<Segment, number>();
    const onWritten = (s: Segment, n: number) => credited.set(s, (credited.get(s) ?? 0) + n);
    const [a, b] = [new SegmentWriter(handle, onWritten, () => undefined, lane), new SegmentWriter(handle, onWritten, () => undefined, lane)];
    const pieces = [segment(0, BATCH_BYTES + 99), segment(BATCH_BYTES + 100, 2 * BATCH_BYTES + 5), segment(3 * BATCH_BYTES, size - 1), segment(2 * BATCH_BYTES + 6, 3 * BATCH_BYTES - 1)];

    readInto(a, pieces[0]!, content, 65_536 + 7);
    readInto(a, pieces[1]!, content, 100_003);
    readInto(b, pieces[3]!, content, 4096);
    // a's next piece is not where its last one ended: a batch of its own, in the same buffer
    readInto(a, pieces[2]!, content, 1_000_000);
    await Promise.all([a.drained(), b.drained()]);
    await handle.close();

    expect((await readFile(path.join(dir, "model.bin.part"))).equals(content)).toBe(true);
    for (const s of pieces) {
      expect(s.done).toBe(s.end - s.start + 1);
      expect(credited.get(s)).toBe(s.end - s.start + 1);
    }
  });

  it("credits a batch once written, and lends its buffer again only once every batch cut from it is written", async () => {
    const writes: Array<() => void> = [];
    const writev = vi.fn((buffers: Buffer[], _position: number) => new Promise((resolve) => writes.push(() => resolve({ bytesWritten: buffers[0]!.length, buffers }))));
    const handle = { writev, write: vi.fn() } as unknown as Pick<FileHandle, "writev" | "write">;
    const lane = new WriteLane();
    const writer = new SegmentWriter(handle, () => undefined, () => undefined, lane);
    const s = segment(0, 10 * BATCH_BYTES);
    const first = writer.region(BATCH_BYTES);
    const memory = first.buffer;

    // half a buffer, then a flush (a slow connection's tick): one batch of it is written while the rest fills
    writer.filled(s, 0, BATCH_BYTES / 2);
    writer.flush();
    const second = writer.region(BATCH_BYTES);
    writer.filled(s, BATCH_BYTES / 2, second.length);
    const full = s.done;
    await new Promise((resolve) => setImmediate(resolve));
    writes.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    const afterFirst = s.done;
    const lentMeanwhile = lane.buffer();
    writes.shift()!();
    await writer.drained();

    expect(second.buffer).toBe(memory);
    expect(full).toBe(0);
    expect(afterFirst).toBe(BATCH_BYTES / 2);
    expect(lentMeanwhile.buffer).not.toBe(memory);
    expect(s.done).toBe(BATCH_BYTES);
    expect(writev.mock.calls.map(([buffers, position]) => [buffers.map((b: Buffer) => b.length), position])).toEqual([
      [[BATCH_BYTES / 2], 0],
      [[BATCH_BYTES / 2], BATCH_BYTES / 2],
    ]);
    // written whole: the next read goes into the same memory again
    expect(writer.region(10).buffer).toBe(memory);
  });
});
