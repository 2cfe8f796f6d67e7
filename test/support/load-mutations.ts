/**
 * The 200-request storm of test/fault/concurrent-mutations.test.ts: which requests to fire (from a seed),
 * what each answer says about its file, and whether some serial order of the requests explains every
 * answer and the final state.
 *
 * Requests on different files commute, so the check is per file: each request is projected onto the
 * files it touches (a batch or an import onto each of its files), and for every file we search for an
 * order of its projections, starting from the file's known state, that gives exactly the answers seen
 * and ends in the state found on disk, in the catalog and in the status file. The search is a dynamic
 * programme over subsets (which requests have run, which states are reachable), so a file with sixteen
 * requests costs 2^16 steps, not 16!.
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

const encode = ({ inCatalog, onDisk, active }: FileState): number => (inCatalog ? 1 : 0) | (onDisk ? 2 : 0) | (active ? 4 : 0);
const decode = (bits: number): FileState => ({ inCatalog: (bits & 1) !== 0, onDisk: (bits & 2) !== 0, active: (bits & 4) !== 0 });

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

// ---------------------------------------------------------------------------------------------------------
// the requests

/** A small seeded generator (mulberry32): the same seed, the same storm. */
export function seeded(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export type StormRequest =
  | { readonly kind: "download" | "delete" | "remove"; readonly file: string }
  | { readonly kind: "batch"; readonly files: readonly string[] }
  | { readonly kind: "import"; readonly category: string; readonly files: readonly string[] };

export interface StormFiles {
  /** On disk before the storm. */
  readonly present: readonly string[];
  /** Downloading or queued before the storm (slow upstream files: none finishes during it). */
  readonly active: readonly string[];
  /** In the catalog, not on disk, not queued. */
  readonly idle: readonly string[];
  /** Not in the catalog: each import brings some of its own and some that other imports bring too. */
  readonly fresh: readonly string[];
  /** Never in the catalog. */
  readonly unknown: readonly string[];
}

export const filesOf = (request: StormRequest): readonly string[] => ("file" in request ? [request.file] : request.files);

/**
 * `count` requests: imports (each two models of its own, one shared with other imports and one the
 * catalog has), batches of three to six, and single downloads, deletes and removals. No file gets more
 * than MAX_PROJECTIONS_PER_FILE requests.
 */
export function stormRequests(seed: number, files: StormFiles, count: number, imports: number, categories: readonly string[]): StormRequest[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const load = new Map<string, number>();
  const fits = (names: readonly string[]) => names.every((name) => (load.get(name) ?? 0) < MAX_PROJECTIONS_PER_FILE);
  const take = (request: StormRequest): boolean => {
    const names = filesOf(request);
    if (!fits(names)) return false;
    for (const name of names) load.set(name, (load.get(name) ?? 0) + 1);
    requests.push(request);
    return true;
  };
  const requests: StormRequest[] = [];
  const catalogued = [...files.present, ...files.active, ...files.idle];
  const shared = files.fresh.slice(0, 4);
  const own = files.fresh.slice(4);
  for (let i = 0; i < imports; i++) {
    const mine = own.slice(2 * i, 2 * i + 2);
    take({ kind: "import", category: pick(categories), files: [...mine, pick(shared), pick(catalogued)] });
  }
  // singles aim mostly at the files where requests meet: those with a download in flight, and the new ones
  const everything = [...catalogued, ...files.fresh, ...files.unknown];
  const target = () => (random() < 0.6 ? pick([...files.active, ...files.idle, ...shared, ...files.fresh]) : pick(everything));
  for (let attempts = 0; requests.length < count; attempts++) {
    if (attempts > 100 * count) throw new Error(`${count} requests do not fit on these files`);
    const roll = random();
    if (roll < 0.15) {
      const size = 3 + Math.floor(random() * 4);
      take({ kind: "batch", files: [...new Set(Array.from({ length: size }, target))] });
    } else if (roll < 0.45) take({ kind: "download", file: target() });
    else if (roll < 0.7) take({ kind: "delete", file: target() });
    else take({ kind: "remove", file: target() });
  }
  // fired in a shuffled order, so imports are not all first in line
  for (let i = requests.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [requests[i], requests[j]] = [requests[j]!, requests[i]!];
  }
  return requests;
}

export interface Reply {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
}

/** A request's answer about each of its files; undefined where the answer is not one the contract knows. */
export function project(request: StormRequest, reply: Reply, index: number): Map<string, Projection> | undefined {
  const out = new Map<string, Projection>();
  const put = (file: string, answer: string) => out.set(file, { request: index, kind: request.kind, answer });
  const json = reply.json as Record<string, unknown> | undefined;
  const detail = typeof json?.detail === "string" ? json.detail : "";
  if (reply.status >= 500) {
    for (const file of filesOf(request)) put(file, "failed");
    return out;
  }
  switch (request.kind) {
    case "download": {
      if (reply.status === 404 && /not found in catalog/.test(detail)) put(request.file, "404");
      else if (reply.status === 200 && json?.file === request.file && ["present", "downloading", "queued"].includes(json.status as string)) {
        put(request.file, json.status as string);
      } else return undefined;
      return out;
    }
    case "delete": {
      if (reply.status === 404 && /not found in catalog/.test(detail)) put(request.file, "404-catalog");
      else if (reply.status === 404 && /is not on disk/.test(detail)) put(request.file, "404-disk");
      else if (reply.status === 200 && json?.status === "deleted" && json.file === request.file) put(request.file, "200");
      else return undefined;
      return out;
    }
    case "remove": {
      if (reply.status === 404 && /not found in catalog/.test(detail)) put(request.file, "404");
      else if (reply.status === 409 && /being downloaded/.test(detail)) put(request.file, "409-active");
      else if (reply.status === 409 && /still on disk/.test(detail)) put(request.file, "409-disk");
      else if (reply.status === 200 && json?.status === "removed" && json.file === request.file) put(request.file, "200");
      else return undefined;
      return out;
    }
    case "batch": {
      const queued = json?.queued;
      const skipped = json?.skipped;
      if (reply.status !== 200 || !Array.isArray(queued) || !Array.isArray(skipped)) return undefined;
      const named = [...queued, ...skipped];
      if (named.length !== request.files.length || !request.files.every((file) => named.includes(file))) return undefined;
      for (const file of queued as string[]) put(file, "queued");
      for (const file of skipped as string[]) put(file, "skipped");
      return out;
    }
    case "import": {
      const added = json?.added;
      const skipped = json?.skipped;
      if (reply.status !== 200 || !Array.isArray(added) || !Array.isArray(skipped) || json?.total_added !== added.length) return undefined;
      const named = [...added, ...skipped];
      if (named.length !== request.files.length || !request.files.every((file) => named.includes(file))) return undefined;
      for (const file of added as string[]) put(file, "added");
      for (const file of skipped as string[]) put(file, "skipped");
      return out;
    }
  }
}
