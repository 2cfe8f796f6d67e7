// `npm run bench` (node scripts/bench.mjs [--runs N] [--profile]): the service's downloads, measured through
// its HTTP API, against the tools issue 13 names, all from nginx on 127.0.0.1 with the page cache warm. Each
// figure is the median of N timed runs (default 5) after 1 untimed warm-up run:
//   1. unthrottled, one 2 GiB file: curl; curl then `sync`; the Python original's loop (requests,
//      iter_content(8 MiB), write to .part, rename: scripts/bench/requests-loop.py); ours = the service
//      downloading a catalog entry with the source's sha256, from the POST until done and listed present.
//      Targets: ours / (curl then sync) <= 0.8, ours / curl <= 1.25, ours / python loop <= 1.0.
//   2. throttled by nginx to 40 MiB/s per connection, the same file: aria2c -x8 -s8 against ours (with its
//      default DOWNLOAD_CONNECTIONS=8). Target: ours / aria2c <= 0.9.
//   3. batch: three 700 MiB files at once, unthrottled: aria2c -j3 -x8 -s8 against ours (three POSTs at
//      once, its default MAX_CONCURRENT_DOWNLOADS=3). Target: ours / aria2c <= 1.3.
//   4. memory: the sidecar's peak RSS over the whole bench (VmHWM at the end and 100 ms VmRSS samples),
//      target <= 100 MB; its idle RSS is printed too.
//   5. CPU seconds per GiB (user + system) of the downloading process, ours (the sidecar) against curl's:
//      target ours <= 1.75x curl's; python's and aria2c's are printed too.
// Every copy's SHA256 is checked against its source outside the timed part, and every copy is removed.
// `--profile` instead runs one unthrottled download with the sidecar under V8's CPU profiler and prints
// its 15 costliest functions by self time (scripts/bench/profile.mjs).
//
// It needs nginx, aria2c, curl and Python's requests: `npm run bench:setup` (scripts/bench/setup.mjs)
// installs the missing ones from Debian's packages, once; this script installs nothing and says so when one
// is missing (without requests it only skips the Python row).
//
// It is a report, not a test: it exits 0 even when a target is missed, and non-zero only when the
// benchmark itself cannot run (no nginx/aria2, no node_modules, the stack does not start, ...).
// Not part of `npm test`. Everything lives in /tmp/models-admin-bench: the sources (2 GiB and 3 x 700 MiB,
// with their SHA256) are kept there for the next run, the stack's output goes to stack.log there, and the
// profiles to profiles/. The parts are in scripts/bench/.
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_DIR as ROOT } from "../test/support/launch-stack.mjs";
import { lifecycle } from "./script-kit.mjs";
import { measureAria2, measureAria2Batch } from "./bench/aria2.mjs";
import { BenchError, log, OUT_DIR, readAll, STACK_LOG, TOOLS, which } from "./bench/common.mjs";
import { startNginx } from "./bench/nginx.mjs";
import { runProfile } from "./bench/profile.mjs";
import { findPython, measureCurl, measurePython, withSync } from "./bench/references.mjs";
import { report } from "./bench/report.mjs";
import { measureService } from "./bench/service.mjs";
import { ensureSources } from "./bench/source.mjs";
import { Stack } from "./bench/stack.mjs";

const USAGE = `usage: node scripts/bench.mjs [--runs N] [--profile]
  --runs N    timed runs of each measurement, 1 to 20 (default 5), each after 1 untimed warm-up run
  --profile   only one unthrottled 2 GiB download with the sidecar under the CPU profiler, and its top 15`;

function parseArgs(argv) {
  const options = { runs: 5, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--runs") options.runs = Number(argv[++i]);
    else if (arg.startsWith("--runs=")) options.runs = Number(arg.slice("--runs=".length));
    else if (arg === "--profile") options.profile = true;
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new BenchError(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 20) throw new BenchError("--runs must be 1 to 20");
  return options;
}

function checkTools() {
  const missing = Object.keys(TOOLS).filter((tool) => !which(tool));
  if (missing.length > 0) throw new BenchError(`${missing.join(", ")} not installed: run npm run bench:setup first (it installs them from Debian's packages)`);
}

const life = lifecycle(log);

/** What every mode needs: the sources, nginx serving them, the page cache warm, a fresh stack log. */
async function prepare() {
  if (!existsSync(path.join(ROOT, "node_modules", ".bin", "sls"))) throw new BenchError("node_modules is missing: run npm ci first");
  checkTools();
  const sources = await ensureSources();
  await mkdir(OUT_DIR, { recursive: true });
  life.onCleanup(() => rm(OUT_DIR, { recursive: true, force: true }));
  await writeFile(STACK_LOG, `stack output of scripts/bench.mjs, ${new Date().toISOString()}\n`);
  const urls = await startNginx(life);
  log("warming the page cache (reading every source once)");
  for (const source of [sources.main, ...sources.batch]) await readAll(source.file);
  return { urls, sources };
}

/** The references of the three scenarios; the Python row is skipped when no python3 has requests. */
async function measureReferences(urls, sources, runs) {
  const python = findPython();
  if (python) log(`the Python loop runs with ${python}`);
  else log("no python3 with requests here (npm run bench:setup installs python3-requests): the Python row is skipped");
  const curl = await measureCurl(urls.fast(sources.main.name), sources.main, runs);
  const pythonSeries = python
    ? await measurePython(python, urls.fast(sources.main.name), sources.main, runs)
    : { name: "python requests loop", skipped: "no python3 with requests; npm run bench:setup installs python3-requests" };
  const aria2 = await measureAria2(urls.slow(sources.main.name), sources.main, runs);
  const aria2Batch = await measureAria2Batch(sources.batch.map((source) => urls.fast(source.name)), sources.batch, runs);
  return { curl, curlSync: withSync(curl), python: pythonSeries, aria2, aria2Batch };
}

/** Ours in the three scenarios, on one stack with its defaults: its sidecar's memory covers them all. */
async function measureOurs(urls, sources, runs) {
  const stack = new Stack("service");
  await stack.start(urls, sources, life);
  const fast = await measureService(stack, "fast", "ours (service)", runs);
  const slow = await measureService(stack, "slow", "ours (service, 8 connections)", runs);
  const batch = await measureService(stack, "batch", "ours (service, 3 at once)", runs);
  const memory = stack.memory();
  const problems = [...stack.problems];
  await stack.stop();
  return { fast, slow, batch, memory, problems };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { urls, sources } = await prepare();
  if (options.profile) return runProfile(life, urls, sources);
  log(`${options.runs} timed run(s) of each measurement, each after 1 untimed warm-up run`);
  const refs = await measureReferences(urls, sources, options.runs);
  const ours = await measureOurs(urls, sources, options.runs);
  report({
    runs: options.runs,
    sources,
    unthrottled: { curl: refs.curl, curlSync: refs.curlSync, python: refs.python, ours: ours.fast },
    throttled: { aria2: refs.aria2, ours: ours.slow },
    batch: { aria2: refs.aria2Batch, ours: ours.batch },
    memory: ours.memory,
    problems: ours.problems,
  });
}

try {
  await main();
  await life.cleanup();
} catch (error) {
  if (!life.interrupted()) console.error(`[bench] could not run: ${error instanceof BenchError ? error.message : (error?.stack ?? error)}`);
  await life.cleanup();
  process.exitCode = 1;
}
