/**
 * Whether ONE serial order of all of a storm's requests explains every file's answers and final state.
 *
 * File by file is not enough (serial-order.ts): batch 1 queues f1 and skips f2, batch 2 queues f2 and
 * skips f1, and each file has its order (1 then 2 for f1, 2 then 1 for f2) while no one order has both.
 * Only requests on several files (batches, imports) tie files together; one on a single file can go
 * anywhere between them. So the search is over the order of the multi-file requests only, placed one
 * after another. Each file keeps its frontier: the (projections run, state) it can be in, its single-file
 * projections free to run in between, without those from which its final state is out of reach.
 *
 * From its frontier a file also says which of its remaining multi-file requests must come before which
 * (it has no order putting them the other way round). Those orders from every file together must have no
 * cycle: a cycle is a contradiction found at once, and a placement that makes one is undone at once, so
 * the search hardly ever goes deep the wrong way.
 */
import { canFinishTable, encode, movesOf, STATES, type FileState, type Move, type Projection } from "./serial-order";

/** What one file went through in a storm. */
export interface FileHistory {
  readonly file: string;
  readonly initial: FileState;
  readonly projections: readonly Projection[];
  readonly final: FileState;
}

/** A set of (projections run, state bits) a file can be in: mask -> bit set of its STATES states. */
type Frontier = Map<number, number>;

/** [a, b]: request a must come before request b. */
type Before = readonly [number, number];

/** One file's part in the search: its projections, which of them are shared, what still leads to its end. */
class FileSearch {
  readonly #moves: Move[];
  readonly #singles: number[];
  readonly #shared: [request: number, local: number][];
  readonly #canFinish: Uint16Array;
  readonly localOf = new Map<number, number>();

  constructor(history: FileHistory, shared: ReadonlySet<number>) {
    history.projections.forEach((p, i) => this.localOf.set(p.request, i));
    this.#moves = movesOf(history.projections);
    this.#singles = history.projections.flatMap((p, i) => (shared.has(p.request) ? [] : [i]));
    this.#shared = history.projections.flatMap((p, i): [number, number][] => (shared.has(p.request) ? [[p.request, i]] : []));
    this.#canFinish = canFinishTable(this.#moves, history.final);
  }

  start(initial: FileState): Frontier {
    const states = (1 << encode(initial)) & this.#canFinish[0]!;
    return this.#closed(states === 0 ? new Map() : new Map([[0, states]]));
  }

  /** The frontier once `request` has run next (empty: it cannot run next here). */
  advance(frontier: Frontier, request: number): Frontier {
    const i = this.localOf.get(request)!;
    const next: Frontier = new Map();
    for (const [mask, states] of frontier) if ((mask & (1 << i)) === 0) this.#step(next, mask, states, i);
    return this.#closed(next);
  }

  /**
   * What every way on from `frontier` that keeps the order `first` asks for (first(a, b): a comes before b)
   * orders one way only; undefined when no way on keeps it. Some way puts b before a exactly when it
   * passes a set of run projections holding b and not a, in a state reached from the frontier that still
   * leads to the end.
   */
  forced(frontier: Frontier, first: (a: number, b: number) => boolean): Before[] | undefined {
    // the same frontier under the same order among its requests: the same answer
    const asked = this.#shared.flatMap(([a]) => this.#shared.filter(([b]) => first(a, b)).map(([b]) => `${a}<${b}`)).join(",");
    if (this.#last?.frontier === frontier && this.#last.asked === asked) return this.#last.answer;
    const answer = this.#forced(frontier, first);
    this.#last = { frontier, asked, answer };
    return answer;
  }

  #last: { frontier: Frontier; asked: string; answer: Before[] | undefined } | undefined;

  #forced(frontier: Frontier, first: (a: number, b: number) => boolean): Before[] | undefined {
    const n = this.#moves.length;
    const full = (1 << n) - 1;
    const masks = [...frontier.keys()];
    const open = this.#shared.filter(([, i]) => (masks[0]! & (1 << i)) === 0);
    // one or none left to order: the frontier, kept to what leads to the end, has a way on
    if (open.length < 2) return [];
    const waitsFor = new Map(open.map(([b, i]) => [i, open.reduce((need, [a, j]) => (first(a, b) ? need | (1 << j) : need), 0)]));
    const allowed = (mask: number, i: number) => (mask & (1 << i)) === 0 && ((waitsFor.get(i) ?? 0) & ~mask) === 0;
    const reach = new Uint16Array(1 << n);
    for (const [mask, states] of frontier) reach[mask] = states;
    const lowest = Math.min(...masks);
    for (let mask = lowest; mask < full; mask++) {
      const states = reach[mask]!;
      if (states !== 0) for (let i = 0; i < n; i++) if (allowed(mask, i)) reach[mask | (1 << i)]! |= this.#moves[i]!(states) & this.#canFinish[mask | (1 << i)]!;
    }
    // back from the end: the states that still lead there
    const alive = new Uint16Array(1 << n);
    alive[full] = reach[full]!;
    for (let mask = full - 1; mask >= lowest; mask--) {
      const states = reach[mask]!;
      if (states === 0) continue;
      for (let i = 0; i < n; i++) {
        if (!allowed(mask, i) || alive[mask | (1 << i)] === 0) continue;
        for (let bits = 0; bits < STATES; bits++) if ((states & (1 << bits)) !== 0 && (this.#moves[i]!(1 << bits) & alive[mask | (1 << i)]!) !== 0) alive[mask]! |= 1 << bits;
      }
    }
    if (masks.every((mask) => alive[mask] === 0)) return undefined;
    const k = open.length;
    const possible = new Uint8Array(k * k);
    for (let mask = lowest; mask <= full; mask++) {
      if (alive[mask] === 0) continue;
      for (let b = 0; b < k; b++) {
        if ((mask & (1 << open[b]![1])) === 0) continue;
        for (let a = 0; a < k; a++) if ((mask & (1 << open[a]![1])) === 0) possible[b * k + a] = 1;
      }
    }
    const out: Before[] = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) if (a !== b && possible[b * k + a] === 0) out.push([open[a]![0], open[b]![0]]);
    return out;
  }

  /** Adds to `into` what running projection `i` from (`mask`, `states`) leads to, if its end is still in reach. */
  #step(into: Frontier, mask: number, states: number, i: number): void {
    const to = mask | (1 << i);
    const reached = this.#moves[i]!(states) & this.#canFinish[to]!;
    if (reached !== 0) into.set(to, (into.get(to) ?? 0) | reached);
  }

  /** `frontier` with any of the single-file projections run on top, in any order. */
  #closed(frontier: Frontier): Frontier {
    const pending = [...frontier.keys()];
    while (pending.length > 0) {
      const mask = pending.pop()!;
      const states = frontier.get(mask)!;
      for (const i of this.#singles) {
        if ((mask & (1 << i)) !== 0) continue;
        const to = mask | (1 << i);
        const before = frontier.get(to);
        this.#step(frontier, mask, states, i);
        if (frontier.get(to) !== before) pending.push(to);
      }
    }
    return frontier;
  }
}

/** How many placements the search may try before it gives up and calls the answers unexplained. */
export const SEARCH_BUDGET = 20_000;

type Verdict = { ok: true } | { ok: false; why: string };

/**
 * Whether one order of every request explains every file's answers and final state. `hint` orders the
 * requests to try first (the order their answers arrived in is close to the order they took effect in).
 * Each file must already be explainable on its own (`explainable`): this is the check across files.
 */
export function explainableTogether(histories: readonly FileHistory[], hint: readonly number[] = []): Verdict {
  const filesOf = new Map<number, number[]>();
  histories.forEach((history, f) => {
    for (const p of history.projections) filesOf.set(p.request, [...(filesOf.get(p.request) ?? []), f]);
  });
  const rank = new Map(hint.map((request, i) => [request, i]));
  const shared = [...filesOf.keys()]
    .filter((request) => filesOf.get(request)!.length > 1)
    .sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || a - b);
  const searches = histories.map((history) => new FileSearch(history, new Set(shared)));
  const frontiers = searches.map((search, f) => search.start(histories[f]!.initial));
  const unreached = frontiers.findIndex((frontier) => frontier.size === 0);
  if (unreached >= 0) return { ok: false, why: `${histories[unreached]!.file}: no order of its own answers leads to its final state` };
  const forced: (readonly Before[])[] = histories.map(() => []);
  const first = new Order(shared);
  const start = settle(searches, frontiers, forced, first);
  if (start !== true) return { ok: false, why: `no one order of all the requests explains every file's answers: ${start(histories)}` };

  const placed: number[] = [];
  let steps = 0;
  let deepest: number[] = [];
  const place = (order: Order): boolean => {
    if (placed.length === shared.length) return true;
    for (const request of shared) {
      if (placed.includes(request) || order.waits(request, placed)) continue;
      if (++steps > SEARCH_BUDGET) break;
      const touched = filesOf.get(request)!;
      const next = touched.map((f) => searches[f]!.advance(frontiers[f]!, request));
      if (next.some((frontier) => frontier.size === 0)) continue;
      const saved = { frontiers: [...frontiers], forced: [...forced] };
      touched.forEach((f, k) => (frontiers[f] = next[k]!));
      placed.push(request);
      if (placed.length > deepest.length) deepest = [...placed];
      const narrower = order.without(placed);
      if (settle(searches, frontiers, forced, narrower) === true && place(narrower)) return true;
      placed.pop();
      saved.frontiers.forEach((frontier, f) => (frontiers[f] = frontier));
      saved.forced.forEach((pairs, f) => (forced[f] = pairs));
    }
    return false;
  };
  if (place(first)) return { ok: true };
  const stuck = shared.filter((request) => !deepest.includes(request));
  return {
    ok: false,
    why:
      `no one order of all the requests explains every file's answers: of the ${shared.length} requests on several files, ` +
      `at most ${deepest.length} can be put in an order every file agrees with (#${deepest.join(", #")}); ` +
      `none of #${stuck.join(", #")} can come next` +
      (steps > SEARCH_BUDGET ? ` (the search gave up after ${SEARCH_BUDGET} steps)` : ""),
  };
}

/** "a comes before b" among requests, closed under "and so on": what every file's orders say together. */
class Order {
  readonly #index: Map<number, number>;
  readonly #before: Uint8Array[];

  constructor(readonly requests: readonly number[]) {
    this.#index = new Map(requests.map((request, i) => [request, i]));
    this.#before = requests.map(() => new Uint8Array(requests.length));
  }

  /** The same, with what `placed` holds left out: the placed ones come before all the rest. */
  without(placed: readonly number[]): Order {
    return new Order(this.requests.filter((request) => !placed.includes(request)));
  }

  has = (a: number, b: number): boolean => this.#before[this.#index.get(a)!]?.[this.#index.get(b)!] === 1;

  /** Whether `request` must wait for one that is not placed yet. */
  waits(request: number, placed: readonly number[]): boolean {
    return this.requests.some((other) => other !== request && !placed.includes(other) && this.has(other, request));
  }

  /** Adds `pairs` and what follows from them; false when a request would have to come before itself. */
  add(pairs: readonly Before[]): boolean {
    const n = this.requests.length;
    for (const [a, b] of pairs) this.#before[this.#index.get(a)!]![this.#index.get(b)!] = 1;
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) if (this.#before[i]![k]) for (let j = 0; j < n; j++) if (this.#before[k]![j]) this.#before[i]![j] = 1;
    return this.requests.every((_, i) => this.#before[i]![i] === 0);
  }
}

/**
 * Lets every file say what it orders one way only, given what the others say, until nothing new is said.
 * True when no contradiction came up; otherwise says (given the files' names) what contradicts what.
 */
function settle(searches: readonly FileSearch[], frontiers: readonly Frontier[], forced: (readonly Before[])[], order: Order): true | ((histories: readonly FileHistory[]) => string) {
  for (let changed = true; changed; ) {
    changed = false;
    if (!order.add(forced.flat().filter(([a, b]) => order.requests.includes(a) && order.requests.includes(b)))) {
      const cycle = cycleIn(forced);
      return (histories) => (cycle ? describe(cycle, histories) : "the files' orders contradict one another");
    }
    for (let f = 0; f < searches.length; f++) {
      const pairs = searches[f]!.forced(frontiers[f]!, order.has);
      if (!pairs) return (histories) => `${histories[f]!.file} has no order left that agrees with what the other files need`;
      if (pairs.some(([a, b]) => !order.has(a, b))) changed = true;
      forced[f] = pairs;
    }
  }
  return true;
}

/** A cycle in the files' "a before b" together, as the links [a, b, file] that make it; undefined if none. */
function cycleIn(forced: readonly (readonly Before[])[]): [number, number, number][] | undefined {
  const next = new Map<number, [number, number][]>();
  forced.forEach((pairs, f) => {
    for (const [a, b] of pairs) next.set(a, [...(next.get(a) ?? []), [b, f]]);
  });
  const state = new Map<number, "open" | "done">();
  const path: [number, number, number][] = [];
  const visit = (node: number): [number, number, number][] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return path.slice(path.findIndex(([from]) => from === node));
    state.set(node, "open");
    for (const [to, f] of next.get(node) ?? []) {
      path.push([node, to, f]);
      const found = visit(to);
      if (found) return found;
      path.pop();
    }
    state.set(node, "done");
    return undefined;
  };
  for (const node of next.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

const describe = (links: readonly [number, number, number][], histories: readonly FileHistory[]): string =>
  links.map(([a, b, f]) => `#${a} before #${b} on ${histories[f]!.file}`).join(", ");
