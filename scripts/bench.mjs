// `npm run bench` (node scripts/bench.mjs [--runs N] [--no-single]): how fast the service's download
// engine fetches a 2 GiB file compared with curl (one connection, unthrottled) and aria2c (8 ranges,
// each throttled to 40 MB/s by nginx), and how much memory the sidecar needs for it.
//
// It needs nginx, aria2c and curl: `npm run bench:setup` (scripts/bench/setup.mjs) installs them from
// Debian's packages, once; this script installs nothing and says so when one is missing.
//
// It is a report, not a test: it exits 0 even when a target is missed, and non-zero only when the
// benchmark itself cannot run (no nginx/aria2, no node_modules, the stack does not start, ...).
// Not part of `npm test`. Everything lives in /tmp/models-admin-bench; the 2 GiB source is kept there
// for the next run, every downloaded copy is removed. The stack's output goes to stack.log there.
// The parts: scripts/bench/ (the source, nginx, the references, the service, the report).
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_DIR as ROOT } from "../test/support/launch-stack.mjs";
import { lifecycle } from "./script-kit.mjs";
import { BenchError, log, OUT_DIR, readAll, SOURCE, STACK_LOG, TOOLS, which } from "./bench/common.mjs";
import { startNginx } from "./bench/nginx.mjs";
import { measureAria2, measureCurl } from "./bench/references.mjs";
import { report } from "./bench/report.mjs";
import { measureService, Stack } from "./bench/service.mjs";
import { ensureSource } from "./bench/source.mjs";

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

function checkTools() {
  const missing = Object.keys(TOOLS).filter((tool) => !which(tool));
  if (missing.length > 0) throw new BenchError(`${missing.join(", ")} not installed: run npm run bench:setup first (it installs them from Debian's packages)`);
}

const life = lifecycle(log);

/** The service with `extraEnv`: its runs of `scenarios` ("fast", "slow"), its sidecar's memory and its problems. */
async function measureStack(label, extraEnv, urls, sha, runs, scenarios) {
  const stack = new Stack(label, extraEnv);
  await stack.start(urls, life);
  const results = [];
  for (const which of scenarios) results.push(await measureService(stack, which, sha, runs));
  const measured = { results, hwm: stack.peakHwm(), sidecarPid: stack.sidecarPid, idleRss: stack.idleRss, problems: [...stack.problems] };
  await stack.stop();
  return measured;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, "node_modules", ".bin", "sls"))) throw new BenchError("node_modules is missing: run npm ci first");
  checkTools();
  const sha = await ensureSource();
  await mkdir(OUT_DIR, { recursive: true });
  life.onCleanup(() => rm(OUT_DIR, { recursive: true, force: true }));
  await writeFile(STACK_LOG, `stack output of scripts/bench.mjs, ${new Date().toISOString()}\n`);

  const urls = await startNginx(life);
  log("warming the page cache (reading the source once)");
  await readAll(SOURCE);

  log(`${options.runs} run(s) of each measurement`);
  const curl = await measureCurl(urls.fast, sha, options.runs);
  const aria2 = await measureAria2(urls.slow, sha, options.runs);

  const service = await measureStack("service", {}, urls, sha, options.runs, ["fast", "slow"]);
  const [fast, slow] = service.results;
  const { hwm, sidecarPid, idleRss, problems } = service;

  let single;
  let singleHwm;
  let singleIdle;
  if (options.single) {
    const one = await measureStack("service DOWNLOAD_CONNECTIONS=1", { DOWNLOAD_CONNECTIONS: "1" }, urls, sha, options.runs, ["fast"]);
    [single] = one.results;
    singleHwm = one.hwm;
    singleIdle = one.idleRss;
    problems.push(...one.problems.map((p) => `(DOWNLOAD_CONNECTIONS=1) ${p}`));
  }
  report(options, sha, { curl, aria2, fast, slow, single, hwm, sidecarPid, idleRss, singleHwm, singleIdle, problems });
}

try {
  await main();
  await life.cleanup();
} catch (error) {
  if (!life.interrupted()) console.error(`[bench] could not run: ${error instanceof BenchError ? error.message : (error?.stack ?? error)}`);
  await life.cleanup();
  process.exitCode = 1;
}
