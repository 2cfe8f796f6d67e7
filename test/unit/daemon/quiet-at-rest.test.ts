/**
 * The sidecar with nothing to do writes no shared state: over 10 idle seconds the status file is not
 * replaced once (on a network volume each time is a lock, an fsync and a rename that every handler waits
 * behind), while its heartbeat, in a file of its own, goes on. The sidecar runs as `npm run daemon` runs
 * it, on a studio of its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { watch } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, removeTempDir } from "../helpers";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const IDLE_MS = 10_000;

let dir: string;
let sidecar: ChildProcess | undefined;

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(async () => {
  if (sidecar?.exitCode === null) {
    const exited = new Promise((resolve) => sidecar!.once("exit", resolve));
    sidecar.kill("SIGTERM");
    await exited;
  }
  sidecar = undefined;
  await removeTempDir(dir);
});

/** Starts the sidecar on `studioDir` and resolves once it says it has started. */
function startSidecar(studioDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["scripts/run.mjs", "daemon"], {
    cwd: ROOT,
    env: { ...process.env, STUDIO_DIR: studioDir, COMFYUI_DIR: path.join(dir, "ComfyUI"), MODELS_DIR: path.join(dir, "ComfyUI", "models") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  sidecar = child;
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("sidecar started")) resolve(child);
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    child.once("exit", (code) => reject(new Error(`the sidecar exited (${code}) before it started:\n${output}`)));
  });
}

describe("the sidecar at rest", () => {
  it(
    "replaces status.json not once in 10 idle seconds, and keeps its heartbeat",
    async () => {
      const stateDir = path.join(dir, "studio", "state");
      const statusFile = path.join(stateDir, "status.json");
      await mkdir(stateDir, { recursive: true });
      // a studio with a history: one download finished a minute ago, one model's metadata fetched
      const finished = Date.now() - 60_000;
      const done = { status: "done", bytes_downloaded: 5, bytes_total: 5, speed: 0, percent: 100, seq: 1, queued_at: finished, finished_at: finished };
      await writeFile(statusFile, JSON.stringify({ downloads: { "a.safetensors": done }, metadata: { "a.safetensors": { status: "done" } } }));
      const child = await startSidecar(path.join(dir, "studio"));

      // everything the sidecar does in the state folder from now on; its own heartbeat and lock apart
      const events: string[] = [];
      const own: string[] = [];
      const watcher = watch(stateDir, (event, name) => {
        if (name !== null) (/^(\.?sidecar\.json|sidecar\.lock)/.test(name) ? own : events).push(`${event} ${name}`);
      });
      const before = await stat(statusFile);
      const watchedFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      watcher.close();
      const after = await stat(statusFile);
      const renames = events.filter((event) => event === "rename status.json").length;
      const beats = own.filter((event) => event === "rename sidecar.json").length;
      console.log(`quiet-at-rest: in ${IDLE_MS / 1000} idle seconds status.json was replaced ${renames} times, sidecar.json ${beats}; state/ saw ${events.length} other events (and ${own.length} of the sidecar's own heartbeat and lock)`);

      expect(renames).toBe(0);
      expect(events).toEqual([]);
      expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
      const beat = JSON.parse(await readFile(path.join(stateDir, "sidecar.json"), "utf8")) as { pid: number; heartbeat: number; started_at: number };
      expect(beat.pid).toBe(child.pid);
      // beaten during the quiet seconds, and lately
      expect(beat.heartbeat).toBeGreaterThan(watchedFrom + IDLE_MS / 2);
      expect(beat.started_at).toBeLessThan(watchedFrom);
    },
    IDLE_MS + 20_000,
  );
});
