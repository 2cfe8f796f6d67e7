/**
 * How many connections a download uses (governor.ts), driven as transfer.ts drives it: told every 100 ms the
 * bytes so far and how many connections receive, over synthetic links. A link that limits each connection
 * gets more of them quickly; a link one connection fills keeps one, and only tries again now and then.
 */
import { describe, expect, it } from "vitest";
import { ConnectionGovernor } from "../../../../lib/downloads/engine/governor";

const TICK_MS = 100;
/** Bytes per ms of one connection. */
const R = 1000;

/** A link: bytes per ms that `connections` receiving together get at time `now`. */
type Link = (connections: number, now: number) => number;
const perConnection: Link = (connections) => connections * R;
const saturated: Link = () => R;

interface Drive {
  readonly max: number;
  readonly windowMs: number;
  readonly link: Link;
  readonly untilMs: number;
  /** How many of the wanted connections are receiving; all of them unless a test says otherwise. */
  readonly receiving?: (wanted: number, now: number) => number;
}

/** Ticks a governor over `link`; answers each change of the number wanted as [time, connections]. */
function drive({ max, windowMs, link, untilMs, receiving = (wanted) => wanted }: Drive): Array<[number, number]> {
  const governor = new ConnectionGovernor({ max: () => max, windowMs });
  const changes: Array<[number, number]> = [[0, governor.wanted]];
  let bytes = 0;
  let wanted = governor.wanted;
  for (let now = TICK_MS; now <= untilMs; now += TICK_MS) {
    // the connections of the last tick received during it; the new ones start receiving after this one
    const active = receiving(wanted, now - TICK_MS);
    bytes += link(active, now) * TICK_MS;
    wanted = governor.update(now, bytes, receiving(wanted, now));
    expect(wanted).toBeGreaterThanOrEqual(1);
    expect(wanted).toBeLessThanOrEqual(max);
    if (wanted !== changes.at(-1)![1]) changes.push([now, wanted]);
  }
  return changes;
}

const levels = (changes: Array<[number, number]>) => changes.map(([, level]) => level);

describe("ConnectionGovernor on a link that limits each connection", () => {
  it.each([250, 500, 2000])("goes 1, 2, then 8 at once after a doubling that paid in full, and stays at 8 (%i ms windows)", (windowMs) => {
    const changes = drive({ max: 8, windowMs, link: perConnection, untilMs: 60_000 });

    expect(levels(changes)).toEqual([1, 2, 8]);
    // warm-up, one window at 1, one at 2 (and the ticks for the new connections to start): a few windows
    expect(changes.at(-1)![0]).toBeLessThanOrEqual(4 * windowMs + 4 * TICK_MS);
  });

  it("never wants more than DOWNLOAD_CONNECTIONS", () => {
    expect(levels(drive({ max: 3, windowMs: 500, link: perConnection, untilMs: 60_000 }))).toEqual([1, 2, 3]);
    expect(levels(drive({ max: 32, windowMs: 500, link: perConnection, untilMs: 60_000 }))).toEqual([1, 2, 8, 32]);
    expect(levels(drive({ max: 1, windowMs: 500, link: perConnection, untilMs: 60_000 }))).toEqual([1]);
  });

  it("doubles, not quadruples, after a doubling that paid only in part", () => {
    // each added connection brings 60% of one more: enough to keep, not near-linear
    const partly: Link = (connections) => R * (1 + 0.6 * (connections - 1));

    expect(levels(drive({ max: 8, windowMs: 500, link: partly, untilMs: 5000 })).slice(0, 4)).toEqual([1, 2, 4, 8]);
  });
});

describe("ConnectionGovernor on a link one connection fills", () => {
  it("tries 2, goes back to 1, stays there 10 s, then tries 2 again", () => {
    const changes = drive({ max: 8, windowMs: 500, link: saturated, untilMs: 30_000 });

    expect(levels(changes).slice(0, 5)).toEqual([1, 2, 1, 2, 1]);
    const [, up, down, again] = changes.map(([at]) => at);
    expect(up).toBeLessThanOrEqual(2 * 500 + 2 * TICK_MS);
    expect(down! - up!).toBeLessThanOrEqual(500 + 2 * TICK_MS);
    expect(again! - down!).toBeGreaterThanOrEqual(10_000);
    expect(again! - down!).toBeLessThanOrEqual(10_000 + 500 + 2 * TICK_MS);
  });

  it("does not count the warm-up: a slow first window does not make a second connection look like a gain", () => {
    // the first requests and the code's first runs: a tenth of the speed for the first 300 ms
    const slowStart: Link = (connections, now) => (now <= 300 ? R / 10 : R);

    expect(levels(drive({ max: 8, windowMs: 500, link: slowStart, untilMs: 5000 }))).toEqual([1, 2, 1]);
  });

  it("goes back down from the top when the last step did not pay", () => {
    // four connections fill the link
    const four: Link = (connections) => Math.min(connections, 4) * R;

    expect(levels(drive({ max: 16, windowMs: 500, link: four, untilMs: 8000 }))).toEqual([1, 2, 8, 16, 8]);
  });
});

describe("ConnectionGovernor's windows", () => {
  it("measures a level only once all its connections are receiving", () => {
    // the second connection's request takes 3 s to answer; meanwhile one connection moves what it always did
    const late = (wanted: number, now: number) => (wanted > 1 && now < 5000 ? 1 : wanted);

    const changes = drive({ max: 2, windowMs: 500, link: perConnection, untilMs: 20_000, receiving: late });

    // had the window counted the seconds with one connection, two would have looked like no gain
    expect(levels(changes)).toEqual([1, 2]);
  });

  it("decides nothing while fewer connections than wanted are receiving", () => {
    const governor = new ConnectionGovernor({ max: () => 8, windowMs: 500 });
    let now = 0;
    for (; now <= 2000; now += TICK_MS) governor.update(now, now * R, 1);
    expect(governor.wanted).toBe(2);

    for (; now <= 60_000; now += TICK_MS) expect(governor.update(now, now * R, 1)).toBe(2);
  });
});

describe("ConnectionGovernor with a live maximum (the settings' connections_per_file)", () => {
  /** Ticks a governor whose max is `maxAt(now)`; answers each change of the number wanted as [time, connections]. */
  function driveLive(maxAt: (now: number) => number, untilMs: number): Array<[number, number]> {
    let now = 0;
    const governor = new ConnectionGovernor({ max: () => maxAt(now), windowMs: 500 });
    const changes: Array<[number, number]> = [[0, governor.wanted]];
    let bytes = 0;
    let wanted = governor.wanted;
    for (now = TICK_MS; now <= untilMs; now += TICK_MS) {
      bytes += perConnection(wanted, now) * TICK_MS;
      wanted = governor.update(now, bytes, wanted);
      expect(wanted).toBeLessThanOrEqual(maxAt(now));
      if (wanted !== changes.at(-1)![1]) changes.push([now, wanted]);
    }
    return changes;
  }

  it("goes past the old maximum within 2 s of a raise, though it had settled there", () => {
    const changes = driveLive((now) => (now < 20_000 ? 2 : 8), 40_000);

    expect(levels(changes)).toEqual([1, 2, 4, 8]);
    expect(changes.find(([, level]) => level === 8)![0] - 20_000).toBeLessThanOrEqual(2_000);
  });

  it("drops to a lowered maximum at its next update", () => {
    const changes = driveLive((now) => (now < 20_000 ? 8 : 3), 40_000);

    expect(levels(changes)).toEqual([1, 2, 8, 3]);
    expect(changes.at(-1)![0]).toBe(20_000);
  });
});
