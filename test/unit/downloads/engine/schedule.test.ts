/**
 * The schedule that decides which bytes each connection fetches (schedule.ts): for any size, piece size and
 * interleaving of connections taking, receiving, writing, running on, stealing and letting go, no byte is
 * handed to two connections, the segments stay an exact cover of the file, and the hashable prefix is what is
 * written from byte 0. Then the rules one at a time: front first, run-on, held until released, stealing, compact.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { segmentLength, type Segment } from "../../../../lib/downloads/engine/control";
import { compact, pieces, RangeSchedule, type Lease } from "../../../../lib/downloads/engine/schedule";

const MiB = 1024 * 1024;

/** A connection as connection.ts drives one: what it holds, where it receives, what it has not written yet. */
interface Sim {
  held: Lease[];
  current: Lease | undefined;
  pending: Array<{ segment: Segment; position: number; bytes: number }>;
}

/** Fails the property with `message` (plain throws: `expect` is too slow for thousands of checks a run). */
function rule(holds: boolean, message: () => string): void {
  if (!holds) throw new Error(message());
}

/** Adds [from, to) to `ranges`, failing if any byte of it is in there already. */
function claim(ranges: Array<[number, number]>, from: number, to: number, what: string): void {
  const clash = ranges.find(([a, b]) => from < b && a < to);
  rule(!clash, () => `bytes ${from}-${to} ${what} twice (already ${clash?.join("-")})`);
  ranges.push([from, to]);
}

/** The length of the run of `ranges` that starts at byte 0. */
function runFromZero(ranges: Array<[number, number]>): number {
  let end = 0;
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) if (a === end) end = b;
  return end;
}

/** A download's schedule and its simulated connections, checking every rule after every step. */
class World {
  readonly segments: Segment[];
  readonly schedule: RangeSchedule;
  readonly sims: Sim[];
  readonly received: Array<[number, number]> = [];
  readonly written: Array<[number, number]> = [];

  constructor(readonly size: number, piece: number, connections: number) {
    this.segments = pieces(size, piece);
    this.schedule = new RangeSchedule(this.segments);
    this.sims = Array.from({ length: connections }, () => ({ held: [], current: undefined, pending: [] }));
  }

  take(sim: Sim): void {
    if (sim.current) return;
    const lease = this.schedule.take();
    if (!lease) return;
    sim.held.push(lease);
    sim.current = lease;
  }

  receive(sim: Sim, bytes: number): void {
    const lease = sim.current;
    if (!lease) return;
    const take = Math.min(bytes, lease.segment.end + 1 - lease.received);
    if (take <= 0) return;
    claim(this.received, lease.received, lease.received + take, "handed out");
    sim.pending.push({ segment: lease.segment, position: lease.received, bytes: take });
    lease.received += take;
  }

  /** Writes the oldest batch, in order as the writer does, and credits it. */
  write(sim: Sim): void {
    const batch = sim.pending.shift();
    if (!batch) return;
    rule(batch.position === batch.segment.start + batch.segment.done, () => `a write at ${batch.position} out of order`);
    claim(this.written, batch.position, batch.position + batch.bytes, "written");
    batch.segment.done += batch.bytes;
  }

  /** Runs on into the next piece once the current one is fully received; false when there is none. */
  next(sim: Sim): boolean {
    const lease = sim.current;
    if (!lease || lease.received <= lease.segment.end) return false;
    const next = this.schedule.next(lease);
    if (!next) return false;
    // the same response goes on: its next byte is the one right after the piece it filled
    rule(next.received === lease.segment.end + 1, () => `ran on from ${lease.segment.end} to ${next.received}`);
    sim.held.push(next);
    sim.current = next;
    return true;
  }

  /** Ends the connection's response: its writes drain, then it lets go of every lease it held. */
  release(sim: Sim): void {
    while (sim.pending.length > 0) this.write(sim);
    for (const lease of sim.held) this.schedule.release(lease);
    Object.assign(sim, { held: [], current: undefined });
  }

  check(): void {
    const { segments, size, schedule } = this;
    const where = () => JSON.stringify(segments);
    rule(segments[0]!.start === 0 && segments.at(-1)!.end === size - 1, () => `segments not from 0 to ${size - 1}: ${where()}`);
    segments.forEach((s, i) => {
      rule(s.done >= 0 && s.done <= segmentLength(s), () => `segment ${i} done out of range: ${where()}`);
      rule(i === 0 || s.start === segments[i - 1]!.end + 1, () => `segment ${i} not right after the one before: ${where()}`);
    });
    const written = this.written.reduce((sum, [a, b]) => sum + b - a, 0);
    rule(segments.reduce((sum, s) => sum + s.done, 0) === written, () => `done is not what was written (${written}): ${where()}`);
    rule(schedule.prefix === runFromZero(this.written), () => `prefix ${schedule.prefix}, written from 0: ${runFromZero(this.written)}`);
    for (const { segment, received } of schedule.leases) {
      rule(received >= segment.start + segment.done && received <= segment.end + 1, () => `a lease at ${received} outside ${JSON.stringify(segment)}`);
    }
  }

  /** Every connection works as connection.ts does until the file is complete. */
  finish(): void {
    for (let round = 0; !this.schedule.complete; round++) {
      rule(round < 5000, () => "the download never completes");
      for (const sim of this.sims) {
        if (!sim.current) this.take(sim);
        this.receive(sim, Infinity);
        if (!this.next(sim)) this.release(sim);
        this.check();
      }
    }
    for (const sim of this.sims) this.release(sim);
  }
}

/** What a connection does next, weighted so that connections often run out of pieces and share. */
const op = fc.oneof(
  ...([["take", 3], ["receive", 4], ["write", 3], ["next", 2], ["release", 1], ["rate", 1]] as const).map(([name, weight]) => ({ arbitrary: fc.constant(name), weight })),
);
const step = fc.record({ who: fc.nat(7), op, bytes: fc.integer({ min: 1, max: 24 * MiB }) });
/** A file in a few pieces (so that connections run out of them and share remainders) or in many. */
const download = fc
  .record({
    size: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 * MiB }), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 200 * MiB }), weight: 4 }),
    cut: fc.oneof(fc.integer({ min: 1, max: 4 }).map((n) => ({ n })), fc.integer({ min: MiB, max: 48 * MiB }).map((bytes) => ({ bytes }))),
    connections: fc.integer({ min: 1, max: 8 }),
    steps: fc.array(step, { maxLength: 150, size: "max" }),
  })
  .map(({ cut, ...rest }) => ({ ...rest, piece: "n" in cut ? Math.ceil(rest.size / cut.n) : cut.bytes }));

describe("RangeSchedule, for any download and any interleaving of its connections", () => {
  it("hands no byte to two connections, covers the file once, and completes with every byte written once", () => {
    fc.assert(
      fc.property(download, ({ size, piece, connections, steps }) => {
        const world = new World(size, piece, connections);
        for (const { who, op, bytes } of steps) {
          const sim = world.sims[who % connections]!;
          if (op === "receive") world.receive(sim, bytes);
          else if (op === "rate") Object.assign(sim.current ?? {}, { rate: bytes });
          else world[op](sim);
          world.check();
        }
        world.finish();

        expect(world.schedule.complete).toBe(true);
        expect(world.schedule.prefix).toBe(size);
        expect([...world.schedule.leases]).toEqual([]);
        expect(world.schedule.hasWork).toBe(false);
        expect(world.schedule.take()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("RangeSchedule, rule by rule", () => {
  const fresh = (size: number, piece: number) => {
    const segments = pieces(size, piece);
    return { segments, schedule: new RangeSchedule(segments) };
  };

  it("hands pieces out from the front, and a piece let go of unfinished again from its first missing byte", () => {
    const { segments, schedule } = fresh(100 * MiB, 32 * MiB);

    const [a, b] = [schedule.take()!, schedule.take()!];
    a.segment.done = 5;
    schedule.release(a);
    const again = schedule.take()!;

    expect(b.segment).toBe(segments[1]);
    expect(again.segment).toBe(segments[0]);
    expect(again.received).toBe(5);
    expect(schedule.take()!.segment).toBe(segments[2]);
  });

  it("runs on only into the adjacent piece that nobody holds and nothing of which is fetched", () => {
    const { segments, schedule } = fresh(128 * MiB, 32 * MiB);
    const first = schedule.take()!;
    first.rate = 7;

    const second = schedule.next(first)!;
    expect(second.segment).toBe(segments[1]);
    expect(second.received).toBe(32 * MiB);
    expect(second.rate).toBe(7);

    schedule.take(); // piece 2 is someone else's now
    expect(schedule.next(second)).toBeUndefined();

    segments[3]!.done = 1; // a piece started before a restart is fetched from its own first missing byte
    const fourth = schedule.take()!;
    schedule.release(fourth);
    expect(schedule.next({ segment: segments[2]!, received: 96 * MiB, rate: 0 })).toBeUndefined();
    expect(schedule.next({ segment: segments[3]!, received: 128 * MiB, rate: 0 })).toBeUndefined();
  });

  it("keeps a piece that was run on from held until its connection lets go: its last bytes may still be in memory", () => {
    const { segments, schedule } = fresh(64 * MiB, 32 * MiB);
    const first = schedule.take()!;
    first.received = 32 * MiB; // all received, nothing written yet
    const second = schedule.next(first)!;
    second.received = 40 * MiB;

    expect([...schedule.leases].map((l) => l.segment)).toEqual([segments[0], segments[1]]);
    // another connection finds no piece to take: it gets a share of the second's rest, not the first piece
    const other = schedule.take()!;
    expect(other.segment).not.toBe(segments[0]);
    expect(other.segment.start).toBeGreaterThanOrEqual(40 * MiB);

    segments[0]!.done = 32 * MiB;
    schedule.release(first);
    expect(schedule.take()?.segment).not.toBe(segments[0]);
  });

  it("lets only the connection holding a lease release it", () => {
    const { segments, schedule } = fresh(64 * MiB, 32 * MiB);
    const lease = schedule.take()!;

    schedule.release({ segment: segments[0]!, received: 0, rate: 0 });

    expect([...schedule.leases]).toEqual([lease]);
  });

  it("shares the second half of the remainder with the longest time left, never below what was received", () => {
    const { segments, schedule } = fresh(64 * MiB, 32 * MiB);
    const [fast, slow] = [schedule.take()!, schedule.take()!];
    Object.assign(fast, { received: 2 * MiB, rate: 100 * MiB }); // 30 MiB left: 0.3 s
    Object.assign(slow, { received: 56 * MiB, rate: MiB }); // 8 MiB left: 8 s, none of it written yet

    const stolen = schedule.take()!;

    expect(stolen.segment).toEqual({ start: 60 * MiB, end: 64 * MiB - 1, done: 0 });
    expect(stolen.received).toBe(60 * MiB);
    expect(slow.segment).toEqual({ start: 32 * MiB, end: 60 * MiB - 1, done: 0 });
    expect(fast.segment).toEqual({ start: 0, end: 32 * MiB - 1, done: 0 });
    expect(segments).toEqual([fast.segment, slow.segment, stolen.segment]);
  });

  it("shares a remainder of 4 MiB, and nothing less", () => {
    const { schedule } = fresh(8 * MiB, 8 * MiB);
    const lease = schedule.take()!;
    lease.received = 4 * MiB;

    expect(schedule.take()!.segment).toEqual({ start: 6 * MiB, end: 8 * MiB - 1, done: 0 });
    expect(lease.segment.end).toBe(6 * MiB - 1);
    expect(schedule.hasWork).toBe(false);
    expect(schedule.take()).toBeUndefined();
  });

  it("measures the prefix from byte 0 up to the first byte not written", () => {
    const { segments, schedule } = fresh(96 * MiB, 32 * MiB);
    segments[2]!.done = 32 * MiB;
    expect(schedule.prefix).toBe(0);

    segments[0]!.done = 32 * MiB;
    segments[1]!.done = 5;
    expect(schedule.prefix).toBe(32 * MiB + 5);
    expect(schedule.complete).toBe(false);
  });
});

describe("compact", () => {
  it("merges runs of finished neighbours only, and leaves the live segments as they are", () => {
    const live: Segment[] = [
      { start: 0, end: 9, done: 10 },
      { start: 10, end: 19, done: 10 },
      { start: 20, end: 29, done: 3 },
      { start: 30, end: 39, done: 10 },
      { start: 40, end: 49, done: 10 },
      { start: 50, end: 59, done: 0 },
      { start: 60, end: 69, done: 10 },
    ];
    const before = structuredClone(live);

    expect(compact(live)).toEqual([
      { start: 0, end: 19, done: 20 },
      { start: 20, end: 29, done: 3 },
      { start: 30, end: 49, done: 20 },
      { start: 50, end: 59, done: 0 },
      { start: 60, end: 69, done: 10 },
    ]);
    expect(live).toEqual(before);
  });
});
