// The service under measurement: a stack started as `npm start` starts it (test/support/launch-stack.mjs),
// with a catalog of the nginx sources (each entry with the source's sha256, so that the service verifies
// what it downloads), its API at hand, and its sidecar's memory sampled every 100 ms for as long as it runs.
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { spawnStack } from "../../test/support/launch-stack.mjs";
import { freePort } from "../script-kit.mjs";
import { API_KEY, BENCH_DIR, BenchError, fmt, log, mb, procStatus, RSS_SAMPLE_MS, STACK_LOG } from "./common.mjs";

/**
 * The catalog's entries: the 2 GiB source from nginx's unthrottled port (`fast`) and from its throttled
 * one (`slow`), and the three batch files from the unthrottled port. Each model: { file, dest, source }.
 */
async function writeCatalog(studio, urls, sources) {
  await mkdir(path.join(studio, "catalogs"), { recursive: true });
  const model = (name, file, url, source) => ({ entry: { name, file, dest: "checkpoints", url, sha256: source.sha }, source });
  const models = {
    fast: model("Bench unthrottled", "bench-unthrottled.bin", urls.fast(sources.main.name), sources.main),
    slow: model("Bench throttled", "bench-throttled.bin", urls.slow(sources.main.name), sources.main),
    batch: sources.batch.map((source, i) => model(`Bench batch ${i + 1}`, `bench-batch-${i + 1}.bin`, urls.fast(source.name), source)),
  };
  const entries = [models.fast, models.slow, ...models.batch].map((m) => m.entry);
  const catalog = { version: 1, date: "2026-01-01 00:00", categories: [{ id: "bench", name: "Benchmark", models: entries }] };
  await writeFile(path.join(studio, "catalogs", "models.json"), `${JSON.stringify(catalog, null, 2)}\n`);
  const flat = (m) => ({ file: m.entry.file, dest: m.entry.dest, source: m.source });
  return { fast: flat(models.fast), slow: flat(models.slow), batch: models.batch.map(flat) };
}

/** The environment it starts from: this one's, without the settings the benchmark wants at their defaults. */
function baseEnv() {
  const env = { ...process.env };
  for (const name of ["MODELS_DIR", "DOWNLOAD_CONNECTIONS", "MAX_CONCURRENT_DOWNLOADS", "NODE_OPTIONS"]) delete env[name];
  return env;
}

export class Stack {
  constructor(label, extraEnv = {}) {
    this.label = label;
    this.extraEnv = extraEnv;
    this.sidecarPid = undefined;
    this.finished = [];
    this.problems = [];
    /** The highest VmRSS sample since start, and since the last `resetWindow()`. */
    this.peakRss = 0;
    this.windowRss = 0;
  }

  /** Starts it (stopped at `life`'s clean-up too) with the `sources` from nginx's `urls` in its catalog. */
  async start(urls, sources, life) {
    this.dir = await mkdtemp(path.join(BENCH_DIR, "stack-"));
    this.studio = path.join(this.dir, "studio");
    this.comfy = path.join(this.dir, "ComfyUI");
    this.models = await writeCatalog(this.studio, urls, sources);
    this.statusFile = path.join(this.studio, "state", "status.json");
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;

    const extra = Object.entries(this.extraEnv).map(([k, v]) => `, ${k}=${v}`).join("");
    await appendFile(STACK_LOG, `\n===== ${new Date().toISOString()} ${this.label}: node scripts/run.mjs server (PORT=${this.port}, STUDIO_DIR=${this.studio}${extra})\n`);
    this.stack = spawnStack({
      studioDir: this.studio,
      comfyuiDir: this.comfy,
      port: this.port,
      baseEnv: baseEnv(),
      // nginx serves the files on 127.0.0.1: a private address, allowed here only
      env: { API_KEY, ALLOW_PRIVATE_URLS: "true", ...this.extraEnv },
      onLine: (line, stream) => this.#onLine(line, stream),
      readyTimeoutMs: 180_000,
    });
    const stack = this.stack;
    this.child = stack.process;
    life.own(this.child, () => stack.stop("SIGTERM", 10_000));
    life.onCleanup(() => this.stop());
    const started = Date.now();
    await this.stack.ready.catch((error) => {
      throw new BenchError(`${this.label}: ${error.message.split("\n")[0]}; see ${STACK_LOG}`);
    });
    if (this.sidecarPid === undefined) throw new BenchError(`${this.label}: the stack did not print the sidecar's pid`);
    log(`${this.label}: stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s on ${this.base}, sidecar pid ${this.sidecarPid}`);
    this.sampler = setInterval(() => this.sample(), RSS_SAMPLE_MS);
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
    if (this.sidecarPid === pid) return;
    // the new one's memory and CPU start from nothing: the figures after this are not comparable
    if (this.sidecarPid !== undefined) this.problems.push(`the sidecar's pid changed from ${this.sidecarPid} to ${pid} (restarted?)`);
    this.sidecarPid = pid;
  }

  /** One VmRSS sample of the sidecar. */
  sample() {
    const rss = procStatus(this.sidecarPid, "VmRSS");
    if (rss === undefined) return;
    this.peakRss = Math.max(this.peakRss, rss);
    this.windowRss = Math.max(this.windowRss, rss);
  }

  /** Starts a new window for `windowRss` (one download's peak), with a sample taken now. */
  resetWindow() {
    this.windowRss = 0;
    this.sample();
  }

  api(method, route) {
    return globalThis.fetch(`${this.base}${route}`, { method, headers: { "X-API-Key": API_KEY } });
  }

  /** The first call of each function starts its worker in serverless-offline: not part of a download's time. */
  async #warmUp() {
    const started = Date.now();
    await this.listing();
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

  /** GET /api/admin/models: each listed file's status ("present", "missing", ...). */
  async listing() {
    const res = await this.api("GET", "/api/admin/models");
    if (res.status !== 200) throw new BenchError(`${this.label}: GET /api/admin/models answered ${res.status}: ${await res.text()}`);
    const body = await res.json();
    const models = body?.categories?.flatMap((category) => category.models ?? []) ?? body?.models ?? [];
    return new Map(models.map((m) => [m.file, m.status]));
  }

  /** The sidecar's status file: `downloads[file]` is each download's entry. */
  async readStatus() {
    try {
      return JSON.parse(await readFile(this.statusFile, "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Where the service puts `model`'s file. */
  target(model) {
    return path.join(this.comfy, "models", model.dest, model.file);
  }

  /** The sidecar's memory: RSS when idle after start-up, the highest 100 ms sample, VmHWM now. */
  memory() {
    return { pid: this.sidecarPid, idleRss: this.idleRss, peakSample: this.peakRss, hwm: procStatus(this.sidecarPid, "VmHWM") };
  }

  async stop() {
    clearInterval(this.sampler);
    if (!this.stack) return;
    await this.stack.stop("SIGTERM", 10_000);
    this.stack.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.stack = undefined;
  }
}
