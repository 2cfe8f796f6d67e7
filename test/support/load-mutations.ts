/**
 * The 200-request storm of test/fault/concurrent-mutations.test.ts: which requests to fire (from a seed),
 * and what each answer says about each of its files, in the words of the judge (serial-order.ts), which
 * then looks for one serial order of the requests that explains every answer and the final state.
 */
import { MAX_PROJECTIONS_PER_FILE, type Projection } from "./serial-order";

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
  | { readonly kind: "download" | "delete" | "remove" | "pause" | "resume" | "move"; readonly file: string }
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
 * catalog has), batches of three to six, and single downloads, deletes, removals, pauses, resumes and moves
 * (to the front of the queue). No file gets more
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
    if (roll < 0.12) {
      const size = 3 + Math.floor(random() * 4);
      take({ kind: "batch", files: [...new Set(Array.from({ length: size }, target))] });
    } else if (roll < 0.34) take({ kind: "download", file: target() });
    else if (roll < 0.52) take({ kind: "delete", file: target() });
    else if (roll < 0.68) take({ kind: "remove", file: target() });
    else if (roll < 0.8) take({ kind: "pause", file: target() });
    else if (roll < 0.9) take({ kind: "resume", file: target() });
    else take({ kind: "move", file: target() });
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
    case "pause":
    case "resume":
    case "move": {
      const ok =
        request.kind === "pause" ? json?.status === "paused" : request.kind === "resume" ? json?.status === "queued" : typeof json?.queue_position === "number";
      const conflict = request.kind === "pause" ? /already paused/ : request.kind === "resume" ? /already (queued|running)/ : /is running: only a queued or paused one/;
      if (reply.status === 404 && /has no download/.test(detail)) put(request.file, "404");
      else if (reply.status === 409 && conflict.test(detail)) put(request.file, "409");
      else if (reply.status === 200 && json?.file === request.file && ok) put(request.file, "200");
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
