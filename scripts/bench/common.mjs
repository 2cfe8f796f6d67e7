// What the parts of `npm run bench` share: where everything lives, the targets, and small helpers for
// running tools, timing them and reading a process's memory.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const BENCH_DIR = "/tmp/models-admin-bench";
export const SOURCE = path.join(BENCH_DIR, "bench.bin");
export const SOURCE_SIZE = 2 * 1024 ** 3;
export const OUT_DIR = path.join(BENCH_DIR, "out");
export const NGINX_DIR = path.join(BENCH_DIR, "nginx");
export const STACK_LOG = path.join(BENCH_DIR, "stack.log");
export const API_KEY = "bench-key-0123456789abcdef";
export const THROTTLE = "40m"; // nginx: 40 MiB/s per connection
export const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
export const POLL_MS = 50;
export const RSS_SAMPLE_MS = 100;

export const TARGETS = { unthrottledRatio: 1.1, throttledRatio: 1.1, rssMb: 150 };

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

/** Runs a child to completion; resolves with its exit code, stderr and the wall-clock seconds. */
export function timed(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "inherit", "pipe"], ...options });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ code, signal, seconds, stderr });
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
