// `npm run load` (node scripts/load.mjs [--duration S] [--connections N] [--models N] [--sse N] [--check]; --help):
// GET /api/admin/models on a 10,000-model catalog (every 20th file on disk) with 20 clients reading the
// status stream, measured with autocannon: p50/p99 latency, requests/s, errors. Target: zero errors and
// p99 under 5x p50; the SSE clients must keep getting an event a second throughout. Before it measures,
// each connection gets --warmup answers (default 3), not counted: serverless-offline's first answer per
// worker includes that worker's start and its parse of the catalog.
//
// It is a report: it exits 0 when a target is missed unless --check is given (then 1), and 2 when the
// benchmark itself cannot run. Not part of `npm test` (test/fault/load.test.ts runs a short version
// without timing targets). It starts its own stack (`node scripts/run.mjs server`, as `npm start` does)
// on a free port with its own folders under the temp dir, and removes them at the end (--keep keeps them).
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_DIR as ROOT, spawnStack } from "../test/support/launch-stack.mjs";
import { freePort, lifecycle } from "./script-kit.mjs";
import { connectSseClients, listOnce, loadList, sseReport, TARGETS, verdict, warmList, writeLoadCatalog } from "./load-kit.mjs";

const API_KEY = "load-key-0123456789abcdef";
const READY_TIMEOUT_MS = 90_000;

// ---------------------------------------------------------------------------------------------------
// arguments

const USAGE = "usage: node scripts/load.mjs [--duration S] [--warmup N] [--connections N] [--models N] [--present-every N] [--sse N] [--check] [--keep]";

class LoadError extends Error {}

function parseArgs(argv) {
  const options = { duration: 20, warmup: 3, connections: 10, models: 10_000, presentEvery: 20, sse: 20, check: false, keep: false };
  const numeric = { "--duration": "duration", "--warmup": "warmup", "--connections": "connections", "--models": "models", "--present-every": "presentEvery", "--sse": "sse" };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    if (flag in numeric) options[numeric[flag]] = Number(inline ?? argv[++i]);
    else if (flag === "--check") options.check = true;
    else if (flag === "--keep") options.keep = true;
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new LoadError(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  for (const name of Object.values(numeric)) {
    const min = name === "warmup" ? 0 : 1;
    if (!Number.isInteger(options[name]) || options[name] < min) throw new LoadError(`--${name} must be a whole number of at least ${min}`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------
// small helpers

const log = (line) => console.log(`[load] ${line}`);
const fmt = (value, digits = 1) => (value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits));

const life = lifecycle(log);

// ---------------------------------------------------------------------------------------------------
// the stack: `node scripts/run.mjs server`, as `npm start` runs it, in folders of its own

async function startStack(root) {
  const logFile = path.join(root, "stack.log");
  const stack = spawnStack({
    studioDir: path.join(root, "studio"),
    comfyuiDir: path.join(root, "ComfyUI"),
    port: await freePort(),
    env: { API_KEY },
    logFile,
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
  life.own(stack.process, () => stack.stop("SIGTERM", 15_000));
  await stack.ready.catch((error) => {
    // the reason and the last 30 lines of the stack's output; the rest is in its log
    const [reason, ...lines] = error.message.split("\n");
    throw new LoadError([reason, ...lines.slice(-30), `see ${logFile}`].join("\n"));
  });
  return { baseUrl: stack.baseUrl, logFile };
}

// ---------------------------------------------------------------------------------------------------

function report(options, catalog, run, sse) {
  const { errorsOk, ratioOk } = verdict(run);
  const sseOk = sse.stalled.length === 0 && sse.errors === 0;
  const pass = (ok) => (ok ? "PASS" : "FAIL");
  console.log(`\n=== GET /api/admin/models: ${catalog.models} models (${catalog.present} on disk), ${options.sse} SSE clients, ${options.connections} connections, ${options.duration} s ===`);
  console.log(`latency (ms)   p50 ${fmt(run.p50)}   p90 ${fmt(run.p90)}   p99 ${fmt(run.p99)}   max ${fmt(run.max)}`);
  console.log(`throughput     ${fmt(run.rps)} requests/s (${run.requests} requests, ${fmt(run.bytesPerSecond / 1e6)} MB/s)`);
  console.log(`errors         ${run.errors} errors (${run.timeouts} timeouts), ${run.non2xx} non-2xx (${run.status5xx} 5xx)`);
  console.log(`SSE            ${sse.clients} clients: at least ${sse.minEvents} events each, longest wait for an event ${fmt(sse.maxGapMs / 1000, 2)} s${sse.stalled.length ? `, stalled: ${sse.stalled.join(", ")}` : ""}${sse.errors ? `, ${sse.errors} connection errors` : ""}`);
  console.log("\nTargets:");
  console.log(`  zero errors, timeouts and non-2xx             -> ${run.errors + run.non2xx}  ${pass(errorsOk)}`);
  console.log(`  p99 < ${TARGETS.ratio} x p50                                -> p99/p50 = ${fmt(run.ratio, 2)}  ${pass(ratioOk)}`);
  console.log(`  every SSE client an event at least every 3 s  -> ${fmt(sse.maxGapMs / 1000, 2)} s  ${pass(sseOk)}`);
  return errorsOk && ratioOk && sseOk;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, "node_modules", ".bin", "sls"))) throw new LoadError("node_modules is missing: run npm ci first");
  const root = await mkdtemp(path.join(os.tmpdir(), "models-admin-load-"));
  life.onCleanup(async () => {
    if (options.keep) log(`kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  });

  const catalog = await writeLoadCatalog(path.join(root, "studio"), path.join(root, "ComfyUI", "models"), options);
  log(`wrote a catalog of ${catalog.models} models, ${catalog.present} of them on disk, in ${root}`);
  const started = Date.now();
  const { baseUrl, logFile } = await startStack(root);
  log(`stack ready on ${baseUrl} in ${fmt((Date.now() - started) / 1000)} s; its output goes to ${logFile}`);

  const first = await listOnce(baseUrl, API_KEY);
  if (first.status !== 200 || first.total !== catalog.models || first.present !== catalog.present) {
    throw new LoadError(`GET /api/admin/models answered ${first.status} with ${first.total} models, ${first.present} present (expected ${catalog.models}, ${catalog.present})`);
  }
  const sse = connectSseClients({ baseUrl, apiKey: API_KEY, count: options.sse });
  life.onCleanup(async () => sse.stop());
  await sse.ready();
  log(`${options.sse} SSE clients connected and reading`);

  if (options.warmup > 0) {
    const warm = await warmList({ baseUrl, apiKey: API_KEY, connections: options.connections, perConnection: options.warmup });
    log(`warm-up (not measured): ${warm.requests} requests in ${fmt(warm.seconds)} s, ${warm.failures} failed`);
  }
  const from = Date.now();
  const run = await loadList({ baseUrl, apiKey: API_KEY, duration: options.duration, connections: options.connections });
  const to = Date.now();
  await sleep(100);
  const ok = report(options, catalog, run, sseReport(sse.clients, from, to));
  if (!ok && options.check) process.exitCode = 1;
}

try {
  await main();
  await life.cleanup();
} catch (error) {
  if (!life.interrupted()) console.error(`[load] could not run: ${error instanceof LoadError ? error.message : (error?.stack ?? error)}`);
  await life.cleanup();
  process.exitCode = 2;
}
