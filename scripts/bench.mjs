// `npm run bench` (node scripts/bench.mjs [--runs N] [--no-single]): how fast the service's download
// engine fetches a 2 GiB file compared with curl (one connection, unthrottled) and aria2c (8 ranges,
// each throttled to 40 MB/s by nginx), and how much memory the sidecar needs for it.
//
// It is a report, not a test: it exits 0 even when a target is missed, and non-zero only when the
// benchmark itself cannot run (no nginx/aria2, no node_modules, the stack does not start, ...).
// Not part of `npm test`. Everything lives in /tmp/models-admin-bench; the 2 GiB source is kept there
// for the next run, every downloaded copy is removed. The stack's output goes to stack.log there.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { clearInterval, setInterval } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort, lifecycle, stopGroup } from "./script-kit.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BENCH_DIR = "/tmp/models-admin-bench";
const SOURCE = path.join(BENCH_DIR, "bench.bin");
const SOURCE_SIZE = 2 * 1024 ** 3;
const OUT_DIR = path.join(BENCH_DIR, "out");
const NGINX_DIR = path.join(BENCH_DIR, "nginx");
const STACK_LOG = path.join(BENCH_DIR, "stack.log");
const API_KEY = "bench-key-0123456789abcdef";
const THROTTLE = "40m"; // nginx: 40 MiB/s per connection
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
const POLL_MS = 50;
const RSS_SAMPLE_MS = 100;

const TARGETS = { unthrottledRatio: 1.1, throttledRatio: 1.1, rssMb: 150 };

// ---------------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const options = { runs: 2, single: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--runs") options.runs = Number(argv[++i]);
    else if (arg.startsWith("--runs=")) options.runs = Number(arg.slice("--runs=".length));
    else if (arg === "--no-single") options.single = false;
    else if (arg === "--help" || arg === "-h") {
      console.log("usage: node scripts/bench.mjs [--runs N] [--no-single]");
      process.exit(0);
    } else throw new BenchError(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 20) throw new BenchError("--runs must be 1 to 20");
  return options;
}

class BenchError extends Error {}

// ---------------------------------------------------------------------------------------------------
// small helpers

const log = (line) => console.log(`[bench] ${line}`);
const mb = (bytes) => bytes / 1e6;
const fmt = (value, digits = 2) => (value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits));

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error) throw result.error;
  return result;
}

function which(name) {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])) {
    const file = path.join(dir, name);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/** Runs a child to completion; resolves with its exit code, stderr and the wall-clock seconds. */
function timed(command, args, options = {}) {
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

async function sha256File(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) hash.update(chunk);
  return hash.digest("hex");
}

async function readAll(file) {
  // warms the page cache: the servers then read from memory, not from the disk
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) void chunk;
}

async function waitFor(what, check, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new BenchError(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

function procStatus(pid, field) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

const life = lifecycle(log);

// ---------------------------------------------------------------------------------------------------
// 1. tools

function ensureTools() {
  const missing = [];
  if (!which("nginx")) missing.push("nginx");
  if (!which("aria2c")) missing.push("aria2c");
  if (!which("curl")) throw new BenchError("curl is not installed");
  if (missing.length === 0) return;
  log(`installing ${missing.join(" and ")} from Debian's packages`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = run("apt-get", ["update"], { stdio: "inherit", env });
  if (update.status !== 0) throw new BenchError("apt-get update failed");
  const packages = [];
  if (missing.includes("nginx")) {
    const light = run("apt-cache", ["policy", "nginx-light"]).stdout ?? "";
    const candidate = /Candidate:\s*(\S+)/.exec(light)?.[1];
    packages.push(candidate && candidate !== "(none)" ? "nginx-light" : "nginx");
  }
  if (missing.includes("aria2c")) packages.push("aria2");
  const install = run("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "inherit", env });
  if (install.status !== 0) throw new BenchError(`apt-get install ${packages.join(" ")} failed`);
  for (const tool of ["nginx", "aria2c"]) if (!which(tool)) throw new BenchError(`${tool} is still missing after apt-get install`);
}

// ---------------------------------------------------------------------------------------------------
// 2. the 2 GiB source

async function ensureSource() {
  await mkdir(BENCH_DIR, { recursive: true });
  const hashFile = `${SOURCE}.sha256`;
  const current = await stat(SOURCE).catch(() => undefined);
  if (current?.size === SOURCE_SIZE) {
    // the hash is cached beside the file, keyed by its size and mtime
    const cached = await readFile(hashFile, "utf8").catch(() => "");
    const [key, sha] = cached.trim().split(" ");
    if (key === `${current.size}:${current.mtimeMs}` && /^[0-9a-f]{64}$/.test(sha ?? "")) {
      log(`reusing ${SOURCE} (2 GiB), sha256 ${sha}`);
      return sha;
    }
  } else {
    log(`writing 2 GiB of random bytes to ${SOURCE}`);
    const started = Date.now();
    const temp = `${SOURCE}.tmp`;
    const handle = await open(temp, "w", 0o644);
    try {
      const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
      for (let written = 0; written < SOURCE_SIZE; written += chunk.length) {
        randomFillSync(chunk);
        await handle.write(chunk, 0, chunk.length, written);
      }
    } finally {
      await handle.close();
    }
    await rename(temp, SOURCE);
    log(`written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const started = Date.now();
  const sha = await sha256File(SOURCE);
  const fresh = await stat(SOURCE);
  await writeFile(hashFile, `${fresh.size}:${fresh.mtimeMs} ${sha}\n`);
  log(`sha256 ${sha} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return sha;
}

// ---------------------------------------------------------------------------------------------------
// 3. nginx

async function startNginx() {
  await rm(NGINX_DIR, { recursive: true, force: true });
  await mkdir(path.join(NGINX_DIR, "temp"), { recursive: true });
  const [fast, slow] = [await freePort(), await freePort()];
  const temp = (name) => path.join(NGINX_DIR, "temp", name);
  const conf = `# written by scripts/bench.mjs
daemon off;
master_process on;
worker_processes 2;
user root;
pid ${path.join(NGINX_DIR, "nginx.pid")};
error_log ${path.join(NGINX_DIR, "error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  client_body_temp_path ${temp("client")};
  proxy_temp_path ${temp("proxy")};
  fastcgi_temp_path ${temp("fastcgi")};
  uwsgi_temp_path ${temp("uwsgi")};
  scgi_temp_path ${temp("scgi")};
  server {
    listen 127.0.0.1:${fast};
    root ${BENCH_DIR};
    location = /bench.bin { }
    location / { return 404; }
  }
  server {
    listen 127.0.0.1:${slow};
    root ${BENCH_DIR};
    limit_rate ${THROTTLE};
    location = /bench.bin { }
    location / { return 404; }
  }
}
`;
  const confFile = path.join(NGINX_DIR, "nginx.conf");
  await writeFile(confFile, conf);
  const nginx = which("nginx");
  const check = run(nginx, ["-t", "-q", "-p", `${NGINX_DIR}/`, "-e", path.join(NGINX_DIR, "error.log"), "-c", confFile]);
  if (check.status !== 0) throw new BenchError(`nginx refused its configuration:\n${check.stderr}`);
  const child = spawn(nginx, ["-p", `${NGINX_DIR}/`, "-e", path.join(NGINX_DIR, "error.log"), "-c", confFile], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  life.own(child, 5_000);
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const urls = { fast: `http://127.0.0.1:${fast}/bench.bin`, slow: `http://127.0.0.1:${slow}/bench.bin` };
  await waitFor(
    "nginx start",
    async () => {
      if (child.exitCode !== null) throw new BenchError(`nginx exited: ${stderr}`);
      const heads = await Promise.all(Object.values(urls).map((url) => globalThis.fetch(url, { method: "HEAD" })));
      return heads.every((res) => res.status === 200 && Number(res.headers.get("content-length")) === SOURCE_SIZE);
    },
    10_000,
  ).catch((error) => {
    throw new BenchError(`${error.message}${stderr ? `\n${stderr}` : ""}`);
  });
  log(`nginx pid ${child.pid}: unthrottled ${urls.fast}, throttled (${THROTTLE}/s per connection) ${urls.slow}`);
  return urls;
}

// ---------------------------------------------------------------------------------------------------
// 4a. the references

async function measureCurl(url, sha, runs) {
  const out = path.join(OUT_DIR, "curl.bin");
  const results = [];
  for (let i = 1; i <= runs; i++) {
    await rm(out, { force: true });
    syncDisks();
    const result = await timed("curl", ["-s", "-o", out, url]);
    if (result.code !== 0) throw new BenchError(`curl failed (exit ${result.code}): ${result.stderr}`);
    const size = statSync(out).size;
    const syncStarted = Date.now();
    syncDisks();
    const syncSeconds = (Date.now() - syncStarted) / 1000;
    const match = size === SOURCE_SIZE && (await sha256File(out)) === sha;
    results.push({ seconds: result.seconds, match, note: `sync after it took ${syncSeconds.toFixed(2)} s` });
    log(`curl run ${i}: ${result.seconds.toFixed(2)} s${match ? "" : " SHA256 MISMATCH"}`);
    await rm(out, { force: true });
  }
  return results;
}

async function measureAria2(url, sha, runs) {
  const name = "aria2.bin";
  const out = path.join(OUT_DIR, name);
  const results = [];
  for (let i = 1; i <= runs; i++) {
    await rm(out, { force: true });
    await rm(`${out}.aria2`, { force: true });
    syncDisks();
    const args = ["-x8", "-s8", "-k1M", "--file-allocation=none", "-d", OUT_DIR, "-o", name, "--allow-overwrite=true"];
    args.push("--console-log-level=warn", "--summary-interval=0", url);
    const result = await timed("aria2c", args, { stdio: ["ignore", "pipe", "pipe"] });
    if (result.code !== 0) throw new BenchError(`aria2c failed (exit ${result.code}): ${result.stderr}`);
    const match = statSync(out).size === SOURCE_SIZE && (await sha256File(out)) === sha;
    results.push({ seconds: result.seconds, match });
    log(`aria2c run ${i}: ${result.seconds.toFixed(2)} s${match ? "" : " SHA256 MISMATCH"}`);
    await rm(out, { force: true });
  }
  return results;
}

function syncDisks() {
  // every timed download starts with no dirty pages of a previous one still being written back
  run("sync", []);
}

// ---------------------------------------------------------------------------------------------------
// 4b. the service

class Stack {
  constructor(label, extraEnv) {
    this.label = label;
    this.extraEnv = extraEnv;
    this.sidecarPid = undefined;
    this.sidecarPids = [];
    this.finished = [];
    this.problems = [];
  }

  async start(urls) {
    this.dir = await mkdtemp(path.join(BENCH_DIR, "stack-"));
    this.studio = path.join(this.dir, "studio");
    this.comfy = path.join(this.dir, "ComfyUI");
    await mkdir(path.join(this.studio, "catalogs"), { recursive: true });
    this.models = {
      fast: { name: "Bench unthrottled", file: "bench-fast.bin", dest: "checkpoints", url: urls.fast },
      slow: { name: "Bench throttled", file: "bench-slow.bin", dest: "checkpoints", url: urls.slow },
    };
    const catalog = {
      version: 1,
      date: "2026-01-01 00:00",
      categories: [{ id: "bench", name: "Benchmark", models: Object.values(this.models) }],
    };
    await writeFile(path.join(this.studio, "catalogs", "models.json"), `${JSON.stringify(catalog, null, 2)}\n`);
    this.statusFile = path.join(this.studio, "state", "status.json");
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;

    // nginx serves the file on 127.0.0.1: a private address, allowed here only
    const env = { ...process.env, STUDIO_DIR: this.studio, COMFYUI_DIR: this.comfy, PORT: String(this.port), HOST: "127.0.0.1", API_KEY, ALLOW_PRIVATE_URLS: "true" };
    delete env.MODELS_DIR;
    delete env.DOWNLOAD_CONNECTIONS;
    delete env.MAX_CONCURRENT_DOWNLOADS;
    Object.assign(env, this.extraEnv);
    await appendFile(STACK_LOG, `\n===== ${new Date().toISOString()} ${this.label}: node scripts/run.mjs server (PORT=${this.port}, STUDIO_DIR=${this.studio}${Object.entries(this.extraEnv).map(([k, v]) => `, ${k}=${v}`).join("")})\n`);
    const child = spawn(process.execPath, [path.join(ROOT, "scripts", "run.mjs"), "server"], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    life.own(child);
    life.onCleanup(() => this.stop());
    let ready = false;
    const onLine = (stream) => (line) => {
      void appendFile(STACK_LOG, `${stream} ${line}\n`);
      const pids = /sidecar pid (\d+)/.exec(line) ?? /sidecar started \(pid (\d+)\)/.exec(line);
      if (pids) this.#sidecar(Number(pids[1]));
      if (/Models admin API ready on/.test(line)) ready = true;
      const finished = /\[sidecar\] .*?(\S+): finished (\d+) bytes in ([\d.]+) s \(([\d.]+) MB\/s\)/.exec(line);
      if (finished) this.finished.push({ file: finished[1], seconds: Number(finished[3]), line });
      if (/stopped unexpectedly|failed|error|Error/.test(line) && !/^\s*at /.test(line)) this.problems.push(line.trim());
    };
    createInterface({ input: child.stdout }).on("line", onLine("out"));
    createInterface({ input: child.stderr }).on("line", onLine("err"));
    const started = Date.now();
    await waitFor(
      `${this.label}: the stack's "Models admin API ready" line`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new BenchError(`${this.label}: the stack exited during start-up (${child.signalCode ?? `code ${child.exitCode}`}); see ${STACK_LOG}`);
        }
        return ready;
      },
      180_000,
    ).catch((error) => {
      if (error instanceof BenchError && /exited/.test(error.message)) throw error;
      throw new BenchError(`${error.message}; see ${STACK_LOG}`);
    });
    if (this.sidecarPid === undefined) throw new BenchError(`${this.label}: the stack did not print the sidecar's pid`);
    log(`${this.label}: stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s on ${this.base}, sidecar pid ${this.sidecarPid}`);
    await this.#warmUp();
  }

  #sidecar(pid) {
    if (this.sidecarPid !== pid) {
      if (this.sidecarPid !== undefined) this.problems.push(`the sidecar's pid changed from ${this.sidecarPid} to ${pid} (restarted?)`);
      this.sidecarPid = pid;
      this.sidecarPids.push(pid);
    }
  }

  api(method, route) {
    return globalThis.fetch(`${this.base}${route}`, { method, headers: { "X-API-Key": API_KEY } });
  }

  /** The first call of each function starts its worker in serverless-offline: not part of a download's time. */
  async #warmUp() {
    const started = Date.now();
    const list = await this.api("GET", "/api/admin/models");
    if (list.status !== 200) throw new BenchError(`${this.label}: GET /api/admin/models answered ${list.status}: ${await list.text()}`);
    await list.arrayBuffer();
    for (const [method, route] of [
      ["POST", "/api/admin/models/download/no-such-model.bin"],
      ["DELETE", "/api/admin/models/no-such-model.bin"],
    ]) {
      const res = await this.api(method, route);
      await res.arrayBuffer();
      if (res.status !== 404) this.problems.push(`warm-up ${method} ${route} answered ${res.status}, expected 404`);
    }
    this.idleRss = procStatus(this.sidecarPid, "VmRSS");
    log(`${this.label}: warm-up calls took ${((Date.now() - started) / 1000).toFixed(1)} s; sidecar idle RSS ${fmt(mb(this.idleRss ?? NaN), 1)} MB`);
  }

  async readStatus() {
    try {
      return JSON.parse(await readFile(this.statusFile, "utf8"));
    } catch {
      return undefined;
    }
  }

  /** One download through the API: POST, poll the status file until done, check the file, DELETE it. */
  async download(which, sha) {
    const model = this.models[which];
    const target = path.join(this.comfy, "models", model.dest, model.file);
    if (existsSync(target)) throw new BenchError(`${this.label}: ${target} is still there from a previous run`);
    syncDisks();
    let peakRss = 0;
    const sample = () => {
      const rss = procStatus(this.sidecarPid, "VmRSS");
      if (rss !== undefined) peakRss = Math.max(peakRss, rss);
    };
    sample();
    const sampler = setInterval(sample, RSS_SAMPLE_MS);
    const finishedBefore = this.finished.length;
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let result;
    try {
      const res = await this.api("POST", `/api/admin/models/download/${encodeURIComponent(model.file)}`);
      const body = await res.text();
      const postSeconds = elapsed();
      if (res.status !== 200) throw new BenchError(`${this.label}: POST download answered ${res.status}: ${body}`);
      const deadline = Date.now() + DOWNLOAD_TIMEOUT_MS;
      let entry;
      for (;;) {
        entry = (await this.readStatus())?.downloads?.[model.file];
        if (entry?.status === "done" || entry?.status === "error") break;
        if (Date.now() > deadline) throw new BenchError(`${this.label}: ${model.file} not done within ${DOWNLOAD_TIMEOUT_MS / 1000} s (last status ${JSON.stringify(entry)})`);
        if (this.child.exitCode !== null) throw new BenchError(`${this.label}: the stack exited during the download; see ${STACK_LOG}`);
        await sleep(POLL_MS);
      }
      const seconds = elapsed();
      clearInterval(sampler);
      sample();
      result = { seconds, postSeconds, peakRss, status: entry.status, error: entry.error };
      if (entry.status === "error") {
        result.match = false;
        this.problems.push(`${model.file}: status error: ${entry.error}`);
      } else {
        const size = (await stat(target).catch(() => undefined))?.size;
        result.match = size === SOURCE_SIZE && (await sha256File(target)) === sha;
        if (!result.match) this.problems.push(`${model.file}: downloaded file has size ${size} or a different SHA256`);
        const listed = await this.api("GET", "/api/admin/models");
        const listing = await listed.json().catch(() => undefined);
        const models = listing?.categories?.flatMap((category) => category.models ?? []) ?? listing?.models ?? [];
        const listedModel = models.find((m) => m.file === model.file);
        result.listed = listedModel?.status;
        if (listedModel && listedModel.status !== "present") {
          this.problems.push(`${model.file}: GET /api/admin/models says status ${listedModel.status} after the download was done`);
        }
      }
      await sleep(200); // the sidecar's log line of the download arrives
      const own = this.finished.slice(finishedBefore).find((f) => f.file === model.file);
      if (own) result.engineSeconds = own.seconds;
    } finally {
      clearInterval(sampler);
    }
    const del = await this.api("DELETE", `/api/admin/models/${encodeURIComponent(model.file)}`);
    const delBody = await del.text();
    if (del.status !== 200) this.problems.push(`DELETE ${model.file} answered ${del.status}: ${delBody}`);
    await rm(target, { force: true });
    return result;
  }

  peakHwm() {
    return procStatus(this.sidecarPid, "VmHWM");
  }

  async stop() {
    if (!this.child) return;
    await stopGroup(this.child);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

async function measureService(stack, which, sha, runs) {
  const results = [];
  for (let i = 1; i <= runs; i++) {
    const result = await stack.download(which, sha);
    results.push(result);
    const extra = result.engineSeconds !== undefined ? ` (engine's own figure ${result.engineSeconds.toFixed(1)} s)` : "";
    log(`${stack.label} ${which === "fast" ? "unthrottled" : "throttled"} run ${i}: ${result.seconds.toFixed(2)} s, ${result.status}${result.error ? `: ${result.error}` : ""}${extra}, peak RSS ${fmt(mb(result.peakRss), 0)} MB${result.match ? "" : " SHA256 MISMATCH"}`);
    if (result.status === "error") break;
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------
// 5. the report

function best(results) {
  const ok = results.filter((r) => r.status !== "error");
  if (ok.length === 0) return undefined;
  return ok.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

function table(rows) {
  const header = ["scenario", "tool", "seconds", "MB/s", "ratio to ref", "peak sidecar RSS (MB)", "SHA256 match"];
  const cells = rows.map((row) => [
    row.scenario,
    row.tool,
    row.best ? fmt(row.best.seconds) : "ERROR",
    row.best ? fmt(mb(SOURCE_SIZE) / row.best.seconds, 0) : "-",
    row.ratio === undefined ? (row.reference ? "1.00 (ref)" : "-") : fmt(row.ratio),
    row.rss === undefined ? "-" : fmt(mb(row.rss), 1),
    row.results.length === 0 ? "-" : row.results.every((r) => r.match) ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => (i >= 2 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, "node_modules", ".bin", "sls"))) throw new BenchError("node_modules is missing: run npm ci first");
  ensureTools();
  const sha = await ensureSource();
  await mkdir(OUT_DIR, { recursive: true });
  life.onCleanup(() => rm(OUT_DIR, { recursive: true, force: true }));
  await writeFile(STACK_LOG, `stack output of scripts/bench.mjs, ${new Date().toISOString()}\n`);

  const urls = await startNginx();
  log("warming the page cache (reading the source once)");
  await readAll(SOURCE);

  log(`${options.runs} run(s) of each measurement`);
  const curl = await measureCurl(urls.fast, sha, options.runs);
  const aria2 = await measureAria2(urls.slow, sha, options.runs);

  const stack = new Stack("service", {});
  await stack.start(urls);
  const fast = await measureService(stack, "fast", sha, options.runs);
  const slow = await measureService(stack, "slow", sha, options.runs);
  const hwm = stack.peakHwm();
  const sidecarPid = stack.sidecarPid;
  const idleRss = stack.idleRss;
  const problems = [...stack.problems];
  await stack.stop();

  let single;
  let singleHwm;
  let singleIdle;
  if (options.single) {
    const one = new Stack("service DOWNLOAD_CONNECTIONS=1", { DOWNLOAD_CONNECTIONS: "1" });
    await one.start(urls);
    single = await measureService(one, "fast", sha, options.runs);
    singleHwm = one.peakHwm();
    singleIdle = one.idleRss;
    problems.push(...one.problems.map((p) => `(DOWNLOAD_CONNECTIONS=1) ${p}`));
    await one.stop();
  }

  const maxRss = (results, extra) => Math.max(0, extra ?? 0, ...results.map((r) => r.peakRss ?? 0)) || undefined;
  const rows = [
    { scenario: "unthrottled", tool: "curl (1 connection)", results: curl, reference: true },
    { scenario: "unthrottled", tool: "service (8 connections)", results: fast, rss: maxRss(fast) },
    { scenario: `throttled ${THROTTLE}/conn`, tool: "aria2c -x8 -s8", results: aria2, reference: true },
    { scenario: `throttled ${THROTTLE}/conn`, tool: "service (8 connections)", results: slow, rss: maxRss(slow) },
  ];
  if (single) rows.push({ scenario: "unthrottled", tool: "service (DOWNLOAD_CONNECTIONS=1)", results: single, rss: maxRss(single, singleHwm) });
  for (const row of rows) row.best = best(row.results);
  const ratio = (service, reference) => (service.best && reference.best ? service.best.seconds / reference.best.seconds : undefined);
  rows[1].ratio = ratio(rows[1], rows[0]);
  rows[3].ratio = ratio(rows[3], rows[2]);
  if (single) rows[4].ratio = ratio(rows[4], rows[0]);

  console.log("\n=== Download benchmark: 2 GiB (2147483648 bytes) from nginx on 127.0.0.1, page cache warm ===");
  console.log(`source sha256 ${sha}; MB = 10^6 bytes; best of ${options.runs} run(s)\n`);
  console.log(table(rows));

  console.log("\nDetails (every run, seconds):");
  for (const row of rows) {
    const runs = row.results.map((r) => {
      const parts = [fmt(r.seconds)];
      if (r.status === "error") parts.push(`ERROR: ${r.error}`);
      if (r.postSeconds !== undefined) parts.push(`POST answered in ${fmt(r.postSeconds * 1000, 0)} ms`);
      if (r.engineSeconds !== undefined) parts.push(`engine says ${fmt(r.engineSeconds, 1)} s`);
      if (r.peakRss !== undefined) parts.push(`peak RSS ${fmt(mb(r.peakRss), 1)} MB`);
      if (r.note) parts.push(r.note);
      if (!r.match) parts.push("SHA256 MISMATCH");
      return parts.length > 1 ? `${parts[0]} (${parts.slice(1).join(", ")})` : parts[0];
    });
    console.log(`  ${row.scenario} / ${row.tool}: ${runs.join("; ") || "-"}`);
  }
  const mbOf = (bytes) => (bytes === undefined ? "unreadable" : `${fmt(mb(bytes), 1)} MB`);
  console.log(`  sidecar pid ${sidecarPid} (8 connections): RSS ${mbOf(idleRss)} idle before the downloads, VmHWM ${mbOf(hwm)} at the end`);
  if (single) console.log(`  sidecar with DOWNLOAD_CONNECTIONS=1: RSS ${mbOf(singleIdle)} idle, VmHWM ${mbOf(singleHwm)} at the end`);

  const peak = Math.max(hwm ?? 0, rows[1].rss ?? 0, rows[3].rss ?? 0);
  const verdict = (ok) => (ok ? "PASS" : "FAIL");
  const shaOk = [...fast, ...slow].every((r) => r.match) && fast.length > 0 && slow.length > 0;
  console.log("\nTargets:");
  console.log(`  unthrottled: service / curl   <= ${TARGETS.unthrottledRatio.toFixed(2)}  -> ${fmt(rows[1].ratio)}  ${verdict(rows[1].ratio !== undefined && rows[1].ratio <= TARGETS.unthrottledRatio)}`);
  console.log(`  throttled:   service / aria2c <= ${TARGETS.throttledRatio.toFixed(2)}  -> ${fmt(rows[3].ratio)}  ${verdict(rows[3].ratio !== undefined && rows[3].ratio <= TARGETS.throttledRatio)}`);
  console.log(`  peak sidecar RSS < ${TARGETS.rssMb} MB        -> ${fmt(mb(peak), 1)} MB (VmHWM and 100 ms VmRSS samples)  ${verdict(peak > 0 && mb(peak) < TARGETS.rssMb)}`);
  console.log(`  (service downloads byte-identical to the source: ${shaOk ? "yes" : "NO"})`);
  if (problems.length > 0) {
    console.log("\nProblems seen in the service:");
    for (const problem of [...new Set(problems)]) console.log(`  - ${problem}`);
  }
  console.log(`\nStack output: ${STACK_LOG}`);
}

try {
  await main();
  await life.cleanup();
} catch (error) {
  if (!life.interrupted()) console.error(`[bench] could not run: ${error instanceof BenchError ? error.message : (error?.stack ?? error)}`);
  await life.cleanup();
  process.exitCode = 1;
}
