/**
 * The judge of test/fault/concurrent-mutations.test.ts, file by file: the service's contract as a small
 * state machine per file (in the catalog, on disk, a download active), and whether some serial order of
 * the requests' answers about one file, from its known state, gives exactly those answers and ends in the
 * state found. A dynamic programme over subsets (which have run, which states are reachable) makes a file
 * with sixteen requests cost 2^16 steps, not 16!. One order for all files at once: one-order.ts.
 */

/** What a serial order can change about one file: in the catalog, its file on disk, a download active (and paused). */
export interface FileState {
  readonly inCatalog: boolean;
  readonly onDisk: boolean;
  readonly active: boolean;
  /** An active download that is paused (absent: false). */
  readonly paused?: boolean;
}

/** How many states a file has, as bits (a set of them fits in 16 bits). */
export const STATES = 16;
export const ALL_STATES = Array.from({ length: STATES }, (_, bits) => bits);

export type Kind = "download" | "batch" | "delete" | "remove" | "import" | "pause" | "resume" | "move";

/** One request's answer about one file, in words a serial order can check. */
export interface Projection {
  readonly request: number;
  readonly kind: Kind;
  /** download: 404 | present | downloading | queued; batch: queued | skipped; delete: 200 | 404-catalog |
   * 404-disk; remove: 200 | 404 | 409-active | 409-disk; import: added | skipped; pause, resume, move:
   * 200 | 404 | 409; any kind: failed */
  readonly answer: string;
}

export const encode = ({ inCatalog, onDisk, active, paused }: FileState): number =>
  (inCatalog ? 1 : 0) | (onDisk ? 2 : 0) | (active ? 4 : 0) | (paused ? 8 : 0);
export const decode = (bits: number): FileState => ({ inCatalog: (bits & 1) !== 0, onDisk: (bits & 2) !== 0, active: (bits & 4) !== 0, paused: (bits & 8) !== 0 });


/**
 * The answer a request of `kind` gives in state `s`, and the state it leaves: the service's contract.
 * `also`: another answer as good, where the file's state does not decide (a move of an active download
 * answers 200 while it is queued, 409 once the sidecar runs it: the sidecar's timing).
 */
export function serialStep(kind: Kind, s: FileState): { answer: string; next: FileState; also?: string } {
  const { inCatalog: c, onDisk: d, active: a } = s;
  const p = s.paused === true;
  switch (kind) {
    case "download":
      if (!c) return { answer: "404", next: s };
      if (d) return { answer: "present", next: s };
      // a paused one asked for again is resumed
      if (a && !p) return { answer: "downloading", next: s };
      return { answer: "queued", next: { ...s, active: true, paused: false } };
    case "batch":
      if (!c || d || (a && !p)) return { answer: "skipped", next: s };
      return { answer: "queued", next: { ...s, active: true, paused: false } };
    case "delete":
      if (!c) return { answer: "404-catalog", next: s };
      if (a || d) return { answer: "200", next: { ...s, active: false, paused: false, onDisk: false } };
      return { answer: "404-disk", next: s };
    case "pause":
      if (!a) return { answer: "404", next: s };
      return p ? { answer: "409", next: s } : { answer: "200", next: { ...s, paused: true } };
    case "resume":
      if (!a) return { answer: "404", next: s };
      return p ? { answer: "200", next: { ...s, paused: false } } : { answer: "409", next: s };
    case "move":
      if (!a) return { answer: "404", next: s };
      return p ? { answer: "200", next: s } : { answer: "200", also: "409", next: s };
    case "remove":
      if (!c) return { answer: "404", next: s };
      if (a) return { answer: "409-active", next: s };
      if (d) return { answer: "409-disk", next: s };
      return { answer: "200", next: { ...s, inCatalog: false } };
    case "import":
      if (c) return { answer: "skipped", next: s };
      return { answer: "added", next: { inCatalog: true, onDisk: false, active: false, paused: false } };
  }
}

/** States a projection can leave `s` in, given its answer (none: the answer is impossible in `s`). */
function successors(p: Projection, s: FileState): FileState[] {
  const serial = serialStep(p.kind, s);
  // a request that failed may or may not have taken effect
  if (p.answer === "failed") return [s, serial.next];
  return serial.answer === p.answer || serial.also === p.answer ? [serial.next] : [];
}

export const MAX_PROJECTIONS_PER_FILE = 18;

/**
 * Whether some order of `projections`, run from `initial`, gives every answer seen and ends in `final`.
 * On failure, says which answers no order explains.
 */
export function explainable(initial: FileState, projections: readonly Projection[], final: FileState): { ok: true } | { ok: false; why: string } {
  const n = projections.length;
  if (n > MAX_PROJECTIONS_PER_FILE) throw new Error(`${n} requests on one file: too many to search`);
  // reachable[mask]: bit set of states (STATES of them) reachable after exactly the requests in mask
  const reachable = new Uint16Array(1 << n);
  reachable[0] = 1 << encode(initial);
  for (let mask = 0; mask < 1 << n; mask++) {
    const states = reachable[mask]!;
    if (states === 0) continue;
    for (let bits = 0; bits < STATES; bits++) {
      if ((states & (1 << bits)) === 0) continue;
      const s = decode(bits);
      for (let i = 0; i < n; i++) {
        if ((mask & (1 << i)) !== 0) continue;
        for (const next of successors(projections[i]!, s)) reachable[mask | (1 << i)]! |= 1 << encode(next);
      }
    }
  }
  const ends = reachable[(1 << n) - 1]!;
  if ((ends & (1 << encode(final))) !== 0) return { ok: true };
  const endStates = ALL_STATES.filter((bits) => (ends & (1 << bits)) !== 0).map((bits) => JSON.stringify(decode(bits)));
  // the longest prefix some order gets through tells where the answers stop making sense
  let deepest = 0;
  for (let mask = 0; mask < 1 << n; mask++) if (reachable[mask] !== 0) deepest = Math.max(deepest, popcount(mask));
  return {
    ok: false,
    why:
      `from ${JSON.stringify(initial)}, answers ${projections.map((p) => `#${p.request} ${p.kind}=${p.answer}`).join(", ")}; ` +
      (endStates.length === 0
        ? `no order explains them all (at most ${deepest} of ${n} in a row)`
        : `orders that explain them end in ${endStates.join(" or ")}, but found ${JSON.stringify(final)}`),
  };
}

const popcount = (mask: number): number => {
  let count = 0;
  for (let m = mask; m !== 0; m &= m - 1) count++;
  return count;
};

/** The set of states a projection can leave a set of states (as bits) in. */
export type Move = (set: number) => number;

/**
 * For each projection, the set of states it can leave a set of states in: moves[i](set). The search over
 * orders is then integer work (a set's states looked at one bit at a time: 2^16 sets are too many to tabulate).
 */
export const movesOf = (projections: readonly Projection[]): Move[] =>
  projections.map((p) => {
    const one = ALL_STATES.map((bits) => successors(p, decode(bits)).reduce((set, next) => set | (1 << encode(next)), 0));
    return (set) => {
      let out = 0;
      for (let rest = set; rest !== 0; rest &= rest - 1) out |= one[31 - Math.clz32(rest & -rest)]!;
      return out;
    };
  });

/**
 * For each set of projections run (a mask), the states from which the others, in some order, give their
 * answers and end in `final`: the search for one order (one-order.ts) drops every way that no longer can.
 */
export function canFinishTable(moves: readonly Move[], final: FileState): Uint16Array {
  const n = moves.length;
  const table = new Uint16Array(1 << n);
  table[(1 << n) - 1] = 1 << encode(final);
  for (let mask = (1 << n) - 2; mask >= 0; mask--) {
    let states = 0;
    for (let i = 0; i < n; i++) {
      if ((mask & (1 << i)) !== 0) continue;
      const after = table[mask | (1 << i)]!;
      for (let bits = 0; bits < STATES; bits++) if ((moves[i]!(1 << bits) & after) !== 0) states |= 1 << bits;
    }
    table[mask] = states;
  }
  return table;
}
