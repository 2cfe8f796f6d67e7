/** Helpers of the fault suite (test/fault): seeded randomness, pids from the stack's log, watchers. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { catalog, writeCatalog, type TestModel } from "./catalogs";
import { tempDirs, type StackDirs } from "./stack";
import type { UpstreamClient } from "./upstream";

export const MiB = 1024 * 1024;

/**
 * A seeded generator (mulberry32), so that a failing run can be replayed: the seed is printed, and
 * FAULT_SEED=<seed> runs the same moments again.
 */
export function seededRandom(what: string): { seed: number; next: () => number; between: (low: number, high: number) => number } {
  const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${what}: seed ${seed} (replay with FAULT_SEED=${seed})`);
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, next, between: (low, high) => low + (high - low) * next() };
}

/** The fault files' name for the shared poller. */
export { waitUntil as waitFor } from "./wait";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every sidecar pid the log announced, oldest first. */
export const sidecarPids = (log: string): number[] => [...log.matchAll(/sidecar started \(pid (\d+)\)/g)].map((m) => Number(m[1]));

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A catalog entry that downloads the upstream stand-in's `/files/<id>`. */
export const fileModel = (up: UpstreamClient, id: string, file: string, dest = "checkpoints", extra: Partial<TestModel> = {}): TestModel => ({
  name: file,
  file,
  dest,
  source: "url",
  url: up.fileUrl(id),
  ...extra,
});

/** Folders for a stack of a test's own, with `models` as its models catalog before it starts. */
export async function dirsWithCatalog(prefix: string, models: TestModel[] | ((dirs: StackDirs) => TestModel[])): Promise<StackDirs> {
  const dirs = await tempDirs(prefix);
  await mkdir(dirs.modelsDir, { recursive: true });
  const list = typeof models === "function" ? models(dirs) : models;
  await writeCatalog(dirs.studioDir, "models", catalog([{ id: "faults", name: "Faults", models: list }]));
  return dirs;
}

/** Every file under `dir`, relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await visit(full);
      else out.push(path.relative(dir, full));
    }
  };
  await visit(dir);
  return out.sort();
}

/**
 * Reads `file` over and over until stopped, and remembers the reads that did not parse as JSON (the first 20;
 * a missing file counts too, and is counted apart): a reader must never see half of the status file.
 */
export function jsonPoller(file: string, everyMs = 10): { stop: () => Promise<{ reads: number; bad: string[]; missing: number }> } {
  let stopped = false;
  let reads = 0;
  let missing = 0;
  const bad: string[] = [];
  const run = (async () => {
    while (!stopped) {
      const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => `<${error.code}>`);
      reads += 1;
      if (text === "<ENOENT>") missing += 1;
      try {
        JSON.parse(text);
      } catch {
        if (bad.length < 20) bad.push(text.slice(0, 200));
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await run;
      return { reads, bad, missing };
    },
  };
}
