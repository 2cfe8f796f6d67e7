// What the parts of `npm run bench` share: where everything lives, the targets, and small helpers for
// running tools, timing them, hashing their copies and reading a process's memory.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const BENCH_DIR = "/tmp/models-admin-bench";
export const OUT_DIR = path.join(BENCH_DIR, "out");
export const NGINX_DIR = path.join(BENCH_DIR, "nginx");
export const PROFILE_DIR = path.join(BENCH_DIR, "profiles");
export const STACK_LOG = path.join(BENCH_DIR, "stack.log");
export const GIB = 1024 ** 3;
/** The unthrottled and throttled scenarios' file, and the batch's three: each kept in BENCH_DIR for the next run. */
export const SOURCE = { name: "bench.bin", size: 2 * GIB };
export const BATCH = [1, 2, 3].map((n) => ({ name: `batch-${n}.bin`, size: 700 * 1024 ** 2 }));
export const API_KEY = "bench-key-0123456789abcdef";
export const THROTTLE = "40m"; // nginx: 40 MiB/s per connection
export const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
export const POLL_MS = 50;
export const RSS_SAMPLE_MS = 100;

/** Issue 13's targets: ratios of median times (ours / reference), the sidecar's peak RSS, and CPU per GiB. */
export const TARGETS = {
  oursToCurlSync: 0.8,
  oursToCurl: 1.25,
  oursToPython: 1.0,
  oursToAria2: 0.9,
  batchToAria2: 1.3,
  rssMb: 100,
  cpuToCurl: 1.75,
};

/** The programs the benchmark runs besides the service, and the Debian package of each (`npm run bench:setup`). */
export const TOOLS = { nginx: "nginx-light", aria2c: "aria2", curl: "curl" };

/** A reason the benchmark cannot run: printed as it is, without a stack trace. */
export class BenchError extends Error {}

export const log = (line) => console.log(`[bench] ${line}`);
export const mb = (bytes) => bytes / 1e6;
export const fmt = (value, digits = 2) => (value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits));

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error) throw result.error;
  return result;
}

export function which(name) {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])) {
    const file = path.join(dir, name);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/** Runs a child to completion; resolves with its exit code, stdout, stderr and the wall-clock seconds. */
export function timed(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let stdout = "";
    let stderr = "";
    // the end of stdout is kept: that is where bash's `times` prints (cpu.mjs)
    child.stdout?.on("data", (chunk) => {
      stdout = (stdout + chunk).slice(-65536);
    });
    child.stderr?.on("data", (chunk) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ code, signal, seconds, stdout, stderr });
    });
  });
}

export async function sha256File(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) hash.update(chunk);
  return hash.digest("hex");
}

export async function readAll(file) {
  // warms the page cache: the servers then read from memory, not from the disk
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) void chunk;
}

export async function waitFor(what, check, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new BenchError(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

export function procStatus(pid, field) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export function syncDisks() {
  // every timed download starts with no dirty pages of a previous one still being written back
  run("sync", []);
}

export function median(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One untimed warm-up run of `once`, then `runs` timed ones, each logged. `once(label)` resolves with a run's
 * figures ({ seconds, bytes, cpuSeconds?, match, status?, error?, ... }); a run whose status is "error"
 * ends the series, since the next ones would most likely fail the same way.
 */
export async function series(name, runs, once) {
  const warmUp = await once("warm-up");
  logRun(name, "warm-up", warmUp);
  const timedRuns = [];
  if (warmUp.status === "error") return { name, warmUp, runs: timedRuns, failed: true };
  for (let i = 1; i <= runs; i++) {
    const result = await once(`run ${i}`);
    timedRuns.push(result);
    logRun(name, `run ${i}`, result);
    if (result.status === "error") return { name, warmUp, runs: timedRuns, failed: true };
  }
  return { name, warmUp, runs: timedRuns, failed: false };
}

function logRun(name, label, r) {
  const parts = [`${fmt(r.seconds)} s`];
  if (r.cpuSeconds !== undefined) parts.push(`CPU ${fmt(r.cpuSeconds)} s`);
  if (r.status === "error") parts.push(`ERROR: ${r.error}`);
  if (!r.match && r.status !== "error") parts.push("SHA256 MISMATCH");
  log(`${name} ${label}: ${parts.join(", ")}`);
}

/** True when `file` is a byte-for-byte copy of `source` ({ size, sha }); checked outside every timed part. */
export async function matches(file, source) {
  const size = (await stat(file).catch(() => undefined))?.size;
  return size === source.size && (await sha256File(file)) === source.sha;
}
