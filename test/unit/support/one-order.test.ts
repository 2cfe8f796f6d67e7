/** The storm's judge across files: one order of all the requests, or the fault suite proves nothing. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { seeded, stormRequests, filesOf } from "../../support/load-mutations";
import { explainableTogether, type FileHistory } from "../../support/one-order";
import { encode, explainable, serialStep, type FileState, type Kind, type Projection } from "../../support/serial-order";

const idle: FileState = { inCatalog: true, onDisk: false, active: false };
const fresh: FileState = { inCatalog: false, onDisk: false, active: false };
const downloading: FileState = { inCatalog: true, onDisk: false, active: true };
const p = (request: number, kind: Projection["kind"], answer: string): Projection => ({ request, kind, answer });
const history = (file: string, initial: FileState, projections: Projection[], final: FileState): FileHistory => ({ file, initial, projections, final });

describe("explainableTogether", () => {
  it("refuses two batches that each queued one file and skipped the other, which each file alone accepts", () => {
    // batch 0 queues f1 and skips f2; batch 1 queues f2 and skips f1: 0 before 1 on f1, 1 before 0 on f2
    const f1 = history("f1", idle, [p(0, "batch", "queued"), p(1, "batch", "skipped")], downloading);
    const f2 = history("f2", idle, [p(0, "batch", "skipped"), p(1, "batch", "queued")], downloading);

    // the judge of each file alone, all the fault test had, finds nothing wrong
    expect(explainable(f1.initial, f1.projections, f1.final)).toEqual({ ok: true });
    expect(explainable(f2.initial, f2.projections, f2.final)).toEqual({ ok: true });
    expect(explainableTogether([f1, f2])).toMatchObject({ ok: false, why: expect.stringMatching(/no one order of all the requests/) });
  });

  it("refuses a cycle through three files that no two of them show", () => {
    // 0 before 1 on f2, 1 before 2 on f3, 2 before 0 on f1
    const f1 = history("f1", idle, [p(0, "batch", "skipped"), p(2, "batch", "queued")], downloading);
    const f2 = history("f2", idle, [p(0, "batch", "queued"), p(1, "batch", "skipped")], downloading);
    const f3 = history("f3", idle, [p(1, "batch", "queued"), p(2, "batch", "skipped")], downloading);

    expect(explainableTogether([f1, f2, f3]).ok).toBe(false);
    expect(explainableTogether([f1, f2]).ok).toBe(true);
  });

  it("accepts the same two batches when a cancel on one file comes between them", () => {
    // 0 queues f1 and skips f2 (downloading); 2 cancels f2; then 1 skips f1 and queues f2
    const f1 = history("f1", idle, [p(0, "batch", "queued"), p(1, "batch", "skipped")], downloading);
    const f2 = history("f2", downloading, [p(0, "batch", "skipped"), p(1, "batch", "queued"), p(2, "delete", "200")], downloading);

    expect(explainableTogether([f1, f2], [1, 0, 2])).toEqual({ ok: true });
  });

  it("refuses an import and a batch that each file orders its own way, and accepts them in one order", () => {
    // on f1 the batch queued what the import brought: import 1 came first; on f2 it skipped a file the
    // catalog did not have yet: batch 0 came first
    const f1 = history("f1", fresh, [p(0, "batch", "queued"), p(1, "import", "added")], downloading);
    const f2 = history("f2", fresh, [p(0, "batch", "skipped"), p(1, "import", "added")], idle);
    const f2After = history("f2", fresh, [p(0, "batch", "queued"), p(1, "import", "added")], downloading);

    expect(explainable(f2.initial, f2.projections, f2.final)).toEqual({ ok: true });
    expect(explainableTogether([f1, f2]).ok).toBe(false);
    expect(explainableTogether([f1, f2After])).toEqual({ ok: true });
  });

  it.each([1, 2, 3])("accepts a whole storm of 200 requests run in one order (seed %i), in whatever order its answers came", (seed) => {
    const { histories, order } = serialStorm(seed);
    const random = seeded(seed + 100);
    // answers arrive roughly, not exactly, in the order the requests took effect
    const arrived = [...order];
    for (let i = 1; i < arrived.length; i++) if (random() < 0.3) [arrived[i - 1], arrived[i]] = [arrived[i]!, arrived[i - 1]!];

    expect(explainableTogether(histories, arrived)).toEqual({ ok: true });
    // with no idea of the order at all, too (60 seeds pass so; one is enough here)
    if (seed === 1) expect(explainableTogether(histories)).toEqual({ ok: true });
  });
});

describe("explainableTogether, on small storms", () => {
  it("agrees with trying every order of every request", () => {
    fc.assert(fc.property(smallStorm, ({ histories }) => explainableTogether(histories).ok === someOrderExplains(histories)), { numRuns: 300 });
  });
});

const ANSWERS: Record<Kind, string[]> = {
  download: ["404", "present", "downloading", "queued"],
  batch: ["queued", "skipped"],
  delete: ["200", "404-catalog", "404-disk"],
  remove: ["200", "404", "409-active", "409-disk"],
  import: ["added", "skipped"],
  pause: ["200", "404", "409"],
  resume: ["200", "404", "409"],
  move: ["200", "404", "409"],
};
const state = fc
  .record({ inCatalog: fc.boolean(), onDisk: fc.boolean(), active: fc.boolean(), paused: fc.boolean() })
  .map((s): FileState => ({ ...s, paused: s.active && s.paused }));
const request = fc.oneof(
  fc.record({ kind: fc.constantFrom<Kind>("download", "delete", "remove", "pause", "resume", "move"), files: fc.subarray([0, 1, 2], { minLength: 1, maxLength: 1 }) }),
  fc.record({ kind: fc.constantFrom<Kind>("batch", "import"), files: fc.subarray([0, 1, 2], { minLength: 2 }) }),
);

/**
 * Up to six requests on three files, each file's answers and final state from an order of the requests
 * run through the contract: one order for all files (explainable), or each file its own (each file alone
 * explainable, all together only when their orders happen to agree); sometimes an answer changed after.
 */
const smallStorm = fc
  .record({
    initial: fc.tuple(state, state, state),
    requests: fc.array(request, { minLength: 2, maxLength: 6 }),
    orders: fc.array(fc.array(fc.nat(), { minLength: 6, maxLength: 6 }), { minLength: 3, maxLength: 3 }),
    oneOrder: fc.boolean(),
    noise: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 2 }),
  })
  .map(({ initial, requests, orders, oneOrder, noise }) => {
    const now = [...initial];
    const seen: Projection[][] = [[], [], []];
    for (const f of [0, 1, 2]) {
      const order = orders[oneOrder ? 0 : f]!;
      for (const r of requests.map((_, i) => i).sort((a, b) => order[a]! - order[b]! || a - b)) {
        if (!requests[r]!.files.includes(f)) continue;
        const { answer, next } = serialStep(requests[r]!.kind, now[f]!);
        seen[f]!.push(p(r, requests[r]!.kind, answer));
        now[f] = next;
      }
    }
    for (const [which, pick, failed] of noise) {
      const projections = seen.flat();
      const victim = projections[which % Math.max(1, projections.length)];
      if (!victim) continue;
      const answer = failed ? "failed" : ANSWERS[victim.kind][pick % ANSWERS[victim.kind].length]!;
      for (const list of seen) list.forEach((q, i) => q === victim && (list[i] = { ...q, answer }));
    }
    const histories = [0, 1, 2].map((f) => history(`f${f}`, initial[f]!, seen[f]!.sort((a, b) => a.request - b.request), now[f]!));
    return { histories };
  });

/** The plain way: every order of every request, each file's states followed along it ("failed" forks). */
function someOrderExplains(histories: readonly FileHistory[]): boolean {
  const requests = [...new Set(histories.flatMap((h) => h.projections.map((q) => q.request)))];
  const orders = (rest: number[]): number[][] => (rest.length === 0 ? [[]] : rest.flatMap((r) => orders(rest.filter((x) => x !== r)).map((tail) => [r, ...tail])));
  return orders(requests).some((order) =>
    histories.every((h) => {
      let states = [h.initial];
      for (const r of order) {
        const q = h.projections.find((x) => x.request === r);
        if (!q) continue;
        states = states.flatMap((s) => {
          const { answer, also, next } = serialStep(q.kind, s);
          return q.answer === "failed" ? [s, next] : answer === q.answer || also === q.answer ? [next] : [];
        });
      }
      return states.some((s) => encode(s) === encode(h.final));
    }),
  );
}

/** A storm as the fault test fires it, run through the contract in one random order: serializable by construction. */
function serialStorm(seed: number): { histories: FileHistory[]; order: number[] } {
  const names = (kind: string, count: number) => Array.from({ length: count }, (_, i) => `${kind}${i}`);
  const files = { present: names("p", 8), active: names("a", 6), idle: names("i", 14), fresh: names("f", 36), unknown: names("u", 2) };
  const requests = stormRequests(seed, files, 200, 16, ["c"]);
  const random = seeded(seed);
  const order = requests.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const initial = (file: string): FileState => ({
    inCatalog: !file.startsWith("f") && !file.startsWith("u"),
    onDisk: file.startsWith("p"),
    active: file.startsWith("a"),
  });
  const all = Object.values(files).flat();
  const state = new Map(all.map((file) => [file, initial(file)]));
  const seen = new Map<string, Projection[]>(all.map((file) => [file, []]));
  for (const request of order) {
    for (const file of filesOf(requests[request]!)) {
      const { answer, next } = serialStep(requests[request]!.kind, state.get(file)!);
      state.set(file, next);
      seen.get(file)!.push(p(request, requests[request]!.kind, answer));
    }
  }
  const histories = all.map((file) => history(file, initial(file), seen.get(file)!.sort((x, y) => x.request - y.request), state.get(file)!));
  return { histories, order };
}
