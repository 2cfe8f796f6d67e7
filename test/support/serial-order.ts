/**
 * The judge of test/fault/concurrent-mutations.test.ts, file by file: the service's contract as a small
 * state machine per file (in the catalog, on disk, a download active), and whether some serial order of
 * the requests' answers about one file, from its known state, gives exactly those answers and ends in the
 * state found. A dynamic programme over subsets (which have run, which states are reachable) makes a file
 * with sixteen requests cost 2^16 steps, not 16!. One order for all files at once: one-order.ts.
 */

/** What a serial order can change about one file: in the catalog, its file on disk, a download active. */
export interface FileState {
  readonly inCatalog: boolean;
  readonly onDisk: boolean;
  readonly active: boolean;
}

export type Kind = "download" | "batch" | "delete" | "remove" | "import";

/** One request's answer about one file, in words a serial order can check. */
export interface Projection {
  readonly request: number;
  readonly kind: Kind;
  /** download: 404 | present | downloading | queued; batch: queued | skipped; delete: 200 | 404-catalog |
   * 404-disk; remove: 200 | 404 | 409-active | 409-disk; import: added | skipped; any kind: failed */
  readonly answer: string;
}

export const encode = ({ inCatalog, onDisk, active }: FileState): number => (inCatalog ? 1 : 0) | (onDisk ? 2 : 0) | (active ? 4 : 0);
export const decode = (bits: number): FileState => ({ inCatalog: (bits & 1) !== 0, onDisk: (bits & 2) !== 0, active: (bits & 4) !== 0 });

/** The answer a request of `kind` gives in state `s`, and the state it leaves: the service's contract. */
export function serialStep(kind: Kind, s: FileState): { answer: string; next: FileState } {
  const { inCatalog: c, onDisk: d, active: a } = s;
  switch (kind) {
    case "download":
      if (!c) return { answer: "404", next: s };
      if (d) return { answer: "present", next: s };
      if (a) return { answer: "downloading", next: s };
      return { answer: "queued", next: { ...s, active: true } };
    case "batch":
      if (!c || d || a) return { answer: "skipped", next: s };
      return { answer: "queued", next: { ...s, active: true } };
    case "delete":
      if (!c) return { answer: "404-catalog", next: s };
      if (a || d) return { answer: "200", next: { ...s, active: false, onDisk: false } };
      return { answer: "404-disk", next: s };
    case "remove":
      if (!c) return { answer: "404", next: s };
      if (a) return { answer: "409-active", next: s };
      if (d) return { answer: "409-disk", next: s };
      return { answer: "200", next: { ...s, inCatalog: false } };
    case "import":
      if (c) return { answer: "skipped", next: s };
      return { answer: "added", next: { inCatalog: true, onDisk: false, active: false } };
  }
}

/** States a projection can leave `s` in, given its answer (none: the answer is impossible in `s`). */
function successors(p: Projection, s: FileState): FileState[] {
  const serial = serialStep(p.kind, s);
  // a request that failed may or may not have taken effect
  if (p.answer === "failed") return [s, serial.next];
  return serial.answer === p.answer ? [serial.next] : [];
}

export const MAX_PROJECTIONS_PER_FILE = 18;

/**
 * Whether some order of `projections`, run from `initial`, gives every answer seen and ends in `final`.
 * On failure, says which answers no order explains.
 */
export function explainable(initial: FileState, projections: readonly Projection[], final: FileState): { ok: true } | { ok: false; why: string } {
  const n = projections.length;
  if (n > MAX_PROJECTIONS_PER_FILE) throw new Error(`${n} requests on one file: too many to search`);
  // reachable[mask]: bit set of states (8 of them) reachable after exactly the requests in mask
  const reachable = new Uint8Array(1 << n);
  reachable[0] = 1 << encode(initial);
  for (let mask = 0; mask < 1 << n; mask++) {
    const states = reachable[mask]!;
    if (states === 0) continue;
    for (let bits = 0; bits < 8; bits++) {
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
  const endStates = [0, 1, 2, 3, 4, 5, 6, 7].filter((bits) => (ends & (1 << bits)) !== 0).map((bits) => JSON.stringify(decode(bits)));
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

/**
 * For each projection and each set of states (as bits), the set of states it can leave them in:
 * moves[i][set]. The search over orders is then integer work.
 */
export const movesOf = (projections: readonly Projection[]): number[][] =>
  projections.map((p) => {
    const one = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) => successors(p, decode(bits)).reduce((set, next) => set | (1 << encode(next)), 0));
    return Array.from({ length: 256 }, (_, set) => one.reduce((out, next, bits) => ((set & (1 << bits)) !== 0 ? out | next : out), 0));
  });

/**
 * For each set of projections run (a mask), the states from which the others, in some order, give their
 * answers and end in `final`: the search for one order (one-order.ts) drops every way that no longer can.
 */
export function canFinishTable(moves: readonly number[][], final: FileState): Uint8Array {
  const n = moves.length;
  const table = new Uint8Array(1 << n);
  table[(1 << n) - 1] = 1 << encode(final);
  for (let mask = (1 << n) - 2; mask >= 0; mask--) {
    let states = 0;
    for (let i = 0; i < n; i++) {
      if ((mask & (1 << i)) !== 0) continue;
      const after = table[mask | (1 << i)]!;
      for (let bits = 0; bits < 8; bits++) if ((moves[i]![1 << bits]! & after) !== 0) states |= 1 << bits;
    }
    table[mask] = states;
  }
  return table;
}
