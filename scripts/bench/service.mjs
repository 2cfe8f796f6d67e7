// The service under measurement: a stack started as `npm start` starts it (test/support/launch-stack.mjs),
// with a catalog of the two nginx URLs, each download made through the API (POST, then the status file
// polled until it is done) while the sidecar's memory is sampled.
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnStack } from "../../test/support/launch-stack.mjs";
import { freePort } from "../script-kit.mjs";
import {
  API_KEY,
  BENCH_DIR,
  BenchError,
  DOWNLOAD_TIMEOUT_MS,
  fmt,
  log,
  mb,
  POLL_MS,
  procStatus,
  RSS_SAMPLE_MS,
  sha256File,
  SOURCE_SIZE,
  STACK_LOG,
  syncDisks,
} from "./common.mjs";

/** Each of a stack's two models: one from nginx's unthrottled port, one from its throttled port. */
async function writeCatalog(studio, urls) {
  await mkdir(path.join(studio, "catalogs"), { recursive: true });
  const models = {
    fast: { name: "Bench unthrottled", file: "bench-fast.bin", dest: "checkpoints", url: urls.fast },
    slow: { name: "Bench throttled", file: "bench-slow.bin", dest: "checkpoints", url: urls.slow },
  };
  const catalog = {
    version: 1,
    date: "2026-01-01 00:00",
    categories: [{ id: "bench", name: "Benchmark", models: Object.values(models) }],
  };
  await writeFile(path.join(studio, "catalogs", "models.json"), `${JSON.stringify(catalog, null, 2)}\n`);
  return models;
}

/** The environment it starts from: this one's, without the settings the benchmark wants at their defaults. */
function baseEnv() {
  const env = { ...process.env };
  delete env.MODELS_DIR;
  delete env.DOWNLOAD_CONNECTIONS;
  delete env.MAX_CONCURRENT_DOWNLOADS;
  return env;
}

export class Stack {
  constructor(label, extraEnv) {
    this.label = label;
    this.extraEnv = extraEnv;
    this.sidecarPid = undefined;
    this.sidecarPids = [];
    this.finished = [];
    this.problems = [];
  }

  /** Starts it (stopped at `life`'s clean-up too) with nginx's `urls` in its catalog, and warms it up. */
  async start(urls, life) {
    this.dir = await mkdtemp(path.join(BENCH_DIR, "stack-"));
    this.studio = path.join(this.dir, "studio");
    this.comfy = path.join(this.dir, "ComfyUI");
    this.models = await writeCatalog(this.studio, urls);
    this.statusFile = path.join(this.studio, "state", "status.json");
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;

    await appendFile(STACK_LOG, `\n===== ${new Date().toISOString()} ${this.label}: node scripts/run.mjs server (PORT=${this.port}, STUDIO_DIR=${this.studio}${Object.entries(this.extraEnv).map(([k, v]) => `, ${k}=${v}`).join("")})\n`);
    this.stack = spawnStack({
      studioDir: this.studio,
      comfyuiDir: this.comfy,
      port: this.port,
      baseEnv: baseEnv(),
      // nginx serves the file on 127.0.0.1: a private address, allowed here only
      env: { API_KEY, ALLOW_PRIVATE_URLS: "true", ...this.extraEnv },
      onLine: (line, stream) => this.#onLine(line, stream),
      readyTimeoutMs: 180_000,
    });
    this.child = this.stack.process;
    life.own(this.child, () => this.stack.stop("SIGTERM", 10_000));
    life.onCleanup(() => this.stop());
    const started = Date.now();
    await this.stack.ready.catch((error) => {
      throw new BenchError(`${this.label}: ${error.message.split("\n")[0]}; see ${STACK_LOG}`);
    });
    if (this.sidecarPid === undefined) throw new BenchError(`${this.label}: the stack did not print the sidecar's pid`);
    log(`${this.label}: stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s on ${this.base}, sidecar pid ${this.sidecarPid}`);
    await this.#warmUp();
  }

  /** Every line to the stack's log; the sidecar's pid, its finished downloads and any trouble kept. */
  #onLine(line, stream) {
    void appendFile(STACK_LOG, `${stream} ${line}\n`);
    const pids = /sidecar pid (\d+)/.exec(line) ?? /sidecar started \(pid (\d+)\)/.exec(line);
    if (pids) this.#sidecar(Number(pids[1]));
    const finished = /\[sidecar\] .*?(\S+): finished (\d+) bytes in ([\d.]+) s \(([\d.]+) MB\/s\)/.exec(line);
    if (finished) this.finished.push({ file: finished[1], seconds: Number(finished[3]), line });
    if (/stopped unexpectedly|failed|error|Error/.test(line) && !/^\s*at /.test(line)) this.problems.push(line.trim());
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
    if (!this.stack) return;
    await this.stack.stop("SIGTERM", 10_000);
    this.stack.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** `runs` downloads of the `which` model ("fast" or "slow"), each logged as it ends; stops at the first error. */
export async function measureService(stack, which, sha, runs) {
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
