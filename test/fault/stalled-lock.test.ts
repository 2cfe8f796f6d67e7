import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog } from "../support/catalogs";
import { uploadForm } from "../support/client";
import { dirsWithCatalog, isAlive, sleep } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { PROJECT_DIR } from "../support/stack";
import type { WriterTask } from "../support/stalled-writer";

/**
 * A writer that stalls while it holds a file's lock (a slow Lambda, EFS latency; here SIGSTOP) for longer
 * than a lock lives without renewal: another writer takes the lock over and makes its change meanwhile.
 * When the stalled one goes on, its change is made again on top of the other's, or it answers 503 and
 * writes nothing of it. Either way the other's change stays. Both writers are processes of their own
 * running the real lib code (test/support/stalled-writer.ts).
 */
const STOP_MS = 7_000;

type Outcome = { event: "done"; result: unknown } | { event: "failed"; status: number; message: string };

let root: string;
let bundle: string;
const children: number[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "models-admin-stalled-"));
  bundle = path.join(root, "stalled-writer.cjs");
  await build({
    entryPoints: [path.join(PROJECT_DIR, "test", "support", "stalled-writer.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    logLevel: "warning",
  });
});

afterAll(async () => {
  for (const pid of children.filter(isAlive)) {
    process.kill(pid, "SIGCONT");
    process.kill(pid, "SIGKILL");
  }
  if (root) await rm(root, { recursive: true, force: true });
});

/** Starts one writer on `studioDir`; `next()` resolves with each JSON line it prints, in order. */
function startWriter(studioDir: string, task: WriterTask) {
  const child = spawn(process.execPath, [bundle, JSON.stringify(task)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, STUDIO_DIR: studioDir, COMFYUI_DIR: path.join(studioDir, "ComfyUI") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child.pid!);
  const stderr: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`writer ${task.name} ended without a word; it printed: ${stderr.join("")}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  return { pid: child.pid!, next, stderr };
}

/** What of each writer's change is in the file: the names of the imported files, downloads, or activity lines. */
async function namesIn(target: WriterTask["target"], studioDir: string): Promise<string[]> {
  const read = async (...parts: string[]) => JSON.parse(await readFile(path.join(studioDir, ...parts), "utf8")) as unknown;
  switch (target) {
    case "catalog": {
      const doc = (await read("catalogs", "models.json")) as { categories: { models: { file: string }[] }[] };
      return doc.categories.flatMap((c) => c.models.map((m) => m.file.replace(/\.safetensors$/, "")));
    }
    case "status":
      return Object.keys(((await read("state", "status.json")) as { downloads: object }).downloads);
    case "activity":
      return ((await read("state", "activity-log.json")) as { message: string }[]).map((entry) => entry.message);
  }
}

/**
 * Writer A takes the lock and holds still at `holdAt`; it is stopped there for 7 s while `other` makes its
 * change (it takes the lock over once A's has gone stale, 5 s); then A goes on.
 */
async function stallWhile(studioDir: string, target: WriterTask["target"], holdAt: "read" | "rename", other: () => Promise<Outcome>) {
  const go = path.join(studioDir, `go-${target}-${holdAt}`);
  const a = startWriter(studioDir, { target, name: "A", holdAt, go });
  expect(await a.next()).toEqual({ event: "holding" });
  process.kill(a.pid, "SIGSTOP");
  const stoppedAt = Date.now();
  const bOutcome = await other();
  const bTookMs = Date.now() - stoppedAt;
  await sleep(stoppedAt + STOP_MS - Date.now());
  process.kill(a.pid, "SIGCONT");
  await writeFile(go, "");
  const aOutcome = (await a.next()) as Outcome;
  const names = await namesIn(target, studioDir);
  console.log(`${target}, A held at its ${holdAt}: B ${JSON.stringify(bOutcome)} after ${bTookMs} ms; A ${JSON.stringify(aOutcome)}; in the file: ${names.join(", ")}`);
  console.log(`A's log: ${a.stderr.join("")}`);
  return { a: aOutcome, b: bOutcome, names };
}

/** The same, with B a writer process of its own too, on a studio of the test's own. */
async function stallWhileAnotherWrites(target: WriterTask["target"], holdAt: "read" | "rename") {
  const studioDir = await mkdtemp(path.join(root, `${target}-${holdAt}-`));
  await writeCatalog(studioDir, "models", catalog([{ id: "base", name: "Base", models: [{ name: "Kept", file: "Kept.safetensors", dest: "loras" }] }]));
  return stallWhile(studioDir, target, holdAt, async () => (await startWriter(studioDir, { target, name: "B" }).next()) as Outcome);
}

/** B's change is in the file; A's is too, or A answered a 503 that says to try again and wrote nothing. */
function expectNoChangeLost({ a, b, names }: Awaited<ReturnType<typeof stallWhile>>): void {
  expect(b.event, JSON.stringify(b)).toBe("done");
  expect(names, "B's change").toContain("B");
  if (a.event === "done") {
    expect(names, "A answered that its change was made").toContain("A");
  } else {
    expect(a, "A failed: it should be a 503 that says to try again").toMatchObject({ status: 503, message: expect.stringMatching(/try again/) });
    expect(names, "A failed: nothing of it may be written").not.toContain("A");
  }
}

// Each case has a studio of its own, and mostly waits out the 7 s stop: they run at once.
describe.concurrent("a writer stopped for 7 s while it holds the lock, while another writes", () => {
  it("keeps the other's import in the catalog when stopped in the middle of its own import", async () => {
    const outcome = await stallWhileAnotherWrites("catalog", "read");

    expectNoChangeLost(outcome);
    expect(outcome.b).toEqual({ event: "done", result: { added: ["B.safetensors"], skipped: [], total_added: 1 } });
    expect(outcome.names).toContain("Kept");
  });

  it("keeps the other's import in the catalog when stopped just before it renames its new catalog into place", async () => {
    const outcome = await stallWhileAnotherWrites("catalog", "rename");

    expectNoChangeLost(outcome);
    expect(outcome.names).toContain("Kept");
  });

  it("keeps the other's download in status.json", async () => {
    expectNoChangeLost(await stallWhileAnotherWrites("status", "read"));
  });

  it("keeps the other's line in the activity log", async () => {
    expectNoChangeLost(await stallWhileAnotherWrites("activity", "read"));
  });
});

describe("an import through the API while a stopped writer holds the catalog's lock", () => {
  let own: OwnStack;

  beforeAll(async () => {
    own = await startOwnStack({}, await dirsWithCatalog("models-admin-stalled-api-", [{ name: "Kept", file: "Kept.safetensors", dest: "loras" }]));
  });

  afterAll(async () => {
    await own?.close();
  });

  it("is answered, and both imports are in the catalog once the stopped writer goes on", async () => {
    const doc = catalog([{ id: "api", name: "API", models: [{ name: "B", file: "B.safetensors", dest: "loras" }] }]);
    const importB = async (): Promise<Outcome> => {
      const { status, json } = await own.call<{ detail?: string }>("POST", "/api/admin/models/import", { body: uploadForm(JSON.stringify(doc)) });
      return status === 200 ? { event: "done", result: json } : { event: "failed", status, message: String(json?.detail) };
    };

    const outcome = await stallWhile(own.stack.studioDir, "catalog", "read", importB);

    expectNoChangeLost(outcome);
    expect(outcome.b).toEqual({ event: "done", result: { added: ["B.safetensors"], skipped: [], total_added: 1 } });
    expect(outcome.names).toContain("Kept");
  });
});
