/**
 * The bandwidth cap's bucket (rate-limit.ts) over simulated time: takers that behave as connections do (take
 * what a read brought, wait as told, read again), its accuracy over 10-second windows, its fairness between
 * takers, and a rate changed while they wait.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RateLimiter } from "../../../../lib/downloads/engine/rate-limit";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A connection's reads: `chunk` bytes each, as fast as the limiter lets it (the link is never the limit). */
class Taker {
  bytes = 0;
  #stopped = false;

  constructor(
    readonly limiter: RateLimiter,
    readonly chunk: number,
  ) {}

  start(): void {
    const read = () => {
      if (this.#stopped) return;
      // a read that finds the cap spent waits; one that does not goes on at the next turn, as data events do
      this.bytes += this.chunk;
      const wait = this.limiter.take(this.chunk);
      if (wait > 0) this.limiter.wait(wait, read);
      else setTimeout(read, 1);
    };
    read();
  }

  stop(): void {
    this.#stopped = true;
  }
}

/** Runs `takers` for `seconds` of simulated time; answers the bytes of each in each second. */
function run(takers: Taker[], seconds: number, at?: (second: number) => void): number[][] {
  for (const taker of takers) taker.start();
  const perSecond: number[][] = [];
  let last = takers.map((t) => t.bytes);
  for (let s = 0; s < seconds; s += 1) {
    at?.(s);
    vi.advanceTimersByTime(1000);
    const now = takers.map((t) => t.bytes);
    perSecond.push(now.map((b, i) => b - last[i]!));
    last = now;
  }
  for (const taker of takers) taker.stop();
  return perSecond;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
/** The total of each 10-second window, one window starting at each second. */
const windows = (perSecond: number[][], from = 0) =>
  perSecond.slice(from, perSecond.length - 9).map((_, i) => sum(perSecond.slice(from + i, from + i + 10).map(sum)));

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("RateLimiter", () => {
  it("costs nothing and never waits without a cap", () => {
    const limiter = new RateLimiter();

    expect(limiter.limited).toBe(false);
    expect(limiter.take(10 * MiB)).toBe(0);
  });

  it.each([1_000_000, 8 * MiB, 100 * MiB])("holds %i bytes/s within 5 per cent over every 10-second window (the first, with its burst, too), for three takers", (rate) => {
    const limiter = new RateLimiter();
    limiter.rate = rate;
    const chunk = Math.min(64 * KiB, rate / 4);

    const perSecond = run([new Taker(limiter, chunk), new Taker(limiter, chunk), new Taker(limiter, chunk)], 30);

    for (const total of windows(perSecond)) expect(Math.abs(total / 10 - rate) / rate).toBeLessThan(0.05);
    // after the first second: the rate itself
    for (const total of windows(perSecond, 1)) expect(Math.abs(total / 10 - rate) / rate).toBeLessThan(0.01);
  });

  it("shares the budget between takers: each gets its part every second", () => {
    const limiter = new RateLimiter();
    limiter.rate = 8 * MiB;
    const takers = [new Taker(limiter, 64 * KiB), new Taker(limiter, 64 * KiB), new Taker(limiter, 64 * KiB)];

    const perSecond = run(takers, 20);

    for (const second of perSecond.slice(1)) {
      for (const bytes of second) expect(Math.abs(bytes - (8 * MiB) / 3) / ((8 * MiB) / 3)).toBeLessThan(0.1);
    }
  });

  it("keeps a taker of small reads moving beside takers of big ones", () => {
    const limiter = new RateLimiter();
    limiter.rate = 4 * MiB;
    const takers = [new Taker(limiter, 256 * KiB), new Taker(limiter, 256 * KiB), new Taker(limiter, 16 * KiB)];

    const perSecond = run(takers, 20);

    for (const second of perSecond.slice(1)) expect(second[2]).toBeGreaterThan(0);
    for (const total of windows(perSecond)) expect(Math.abs(total / 10 - 4 * MiB) / (4 * MiB)).toBeLessThan(0.02);
  });

  it("takes a live rate change within a second, the waiting takers included", () => {
    const limiter = new RateLimiter();
    limiter.rate = 1 * MiB;
    const takers = [new Taker(limiter, 64 * KiB), new Taker(limiter, 64 * KiB)];

    const perSecond = run(takers, 20, (second) => {
      if (second === 10) limiter.rate = 16 * MiB;
    });

    const totals = perSecond.map(sum);
    for (const bytes of totals.slice(1, 10)) expect(Math.abs(bytes - MiB) / MiB).toBeLessThan(0.1);
    // the first second after the change already runs at the new rate, give or take the old waits
    for (const bytes of totals.slice(10)) expect(Math.abs(bytes - 16 * MiB) / (16 * MiB)).toBeLessThan(0.1);
  });

  it("lowers the rate at once, and lets every waiter go when the cap is lifted", () => {
    const limiter = new RateLimiter();
    limiter.rate = 16 * MiB;
    const takers = [new Taker(limiter, 64 * KiB), new Taker(limiter, 64 * KiB)];

    const perSecond = run(takers, 12, (second) => {
      if (second === 6) limiter.rate = 256 * KiB;
    });

    for (const bytes of perSecond.slice(7).map(sum)) expect(Math.abs(bytes - 256 * KiB) / (256 * KiB)).toBeLessThan(0.3);
    const woken = vi.fn();
    limiter.wait(60_000, woken);
    limiter.rate = null;
    vi.advanceTimersByTime(0);

    expect(woken).toHaveBeenCalledOnce();
    expect(limiter.waiting).toBe(0);
  });
});
