// `npm run bench -- --profile`: one unthrottled 2 GiB download by the service with its sidecar under V8's
// CPU profiler (cpu-profile.cjs, preloaded through NODE_OPTIONS), then the 15 functions that took the most
// self time. Frames of the bundle (.build/daemon.cjs) are mapped back to lib/ through its source map.
import { readdir, readFile, mkdir } from "node:fs/promises";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_DIR } from "../../test/support/launch-stack.mjs";
import { BenchError, fmt, log, mb, PROFILE_DIR } from "./common.mjs";
import { downloadAll } from "./service.mjs";
import { Stack } from "./stack.mjs";

const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "cpu-profile.cjs");
const TOP = 15;

/** The bundle's source map, to turn "daemon.cjs:12345" into "lib/downloads/...ts:67"; none when unreadable. */
async function bundleMap() {
  try {
    return new SourceMap(JSON.parse(await readFile(path.join(PROJECT_DIR, ".build", "daemon.cjs.map"), "utf8")));
  } catch {
    return undefined;
  }
}

/** "file:line" of a call frame (1-based line), through the source map when the frame is in the bundle. */
function whereOf(frame, map) {
  if (!frame.url) return "";
  // CommonJS frames carry a path, ES modules a file:// URL
  const file = frame.url.startsWith("file://") ? fileURLToPath(frame.url) : frame.url;
  if (map && file === path.join(PROJECT_DIR, ".build", "daemon.cjs")) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry?.originalSource) {
      const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
      return `${path.relative(PROJECT_DIR, path.resolve(PROJECT_DIR, ".build", source))}:${entry.originalLine + 1}`;
    }
  }
  return `${path.isAbsolute(file) ? path.relative(PROJECT_DIR, file) : file}:${frame.lineNumber + 1}`;
}

/**
 * Self time per function: each sample's time delta (the time since the sample before it) goes to the
 * node it hit, and nodes are grouped by function name and place. Returns the groups, largest first, and
 * the profile's total and idle milliseconds.
 */
export function selfTimes(profile, map) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byNode = new Map();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const groups = new Map();
  let total = 0;
  for (const [id, micros] of byNode) {
    const frame = nodes.get(id).callFrame;
    const name = frame.functionName || "(anonymous)";
    const where = whereOf(frame, map);
    const key = `${name} ${where}`;
    const group = groups.get(key) ?? { name, where, ms: 0 };
    group.ms += micros / 1000;
    groups.set(key, group);
    total += micros / 1000;
  }
  const sorted = [...groups.values()].sort((a, b) => b.ms - a.ms);
  const idle = sorted.filter((g) => g.name === "(idle)").reduce((sum, g) => sum + g.ms, 0);
  return { sorted, total, idle };
}

function printTop(file, profile, map) {
  const { sorted, total, idle } = selfTimes(profile, map);
  const busy = total - idle;
  console.log(`\n${file}`);
  console.log(`  ${fmt(total / 1000)} s profiled, ${fmt(busy / 1000)} s busy (not "(idle)"); top ${TOP} by self time:`);
  console.log(`  ${"self ms".padStart(9)} ${"% all".padStart(6)} ${"% busy".padStart(6)}  function  (file:line)`);
  for (const g of sorted.slice(0, TOP)) {
    const ofBusy = g.name === "(idle)" ? "" : fmt((100 * g.ms) / busy, 1);
    console.log(`  ${fmt(g.ms, 0).padStart(9)} ${fmt((100 * g.ms) / total, 1).padStart(6)} ${ofBusy.padStart(6)}  ${g.name}${g.where ? `  (${g.where})` : ""}`);
  }
}

/** Starts the stack with the profiler preloaded, downloads once, stops it, and prints the sidecar's profile. */
export async function runProfile(life, urls, sources) {
  const dir = path.join(PROFILE_DIR, new Date().toISOString().replace(/[:.]/g, "-"));
  await mkdir(dir, { recursive: true });
  const env = { NODE_OPTIONS: `--require ${JSON.stringify(PRELOAD)}`, BENCH_CPU_PROFILE_DIR: dir };
  const stack = new Stack("service (sidecar under the CPU profiler)", env);
  await stack.start(urls, sources, life);
  const pid = stack.sidecarPid;
  const result = await downloadAll(stack, [stack.models.fast]);
  const what = result.status === "error" ? `ERROR: ${result.error}` : `${fmt(result.seconds)} s, CPU ${fmt(result.cpuSeconds)} s`;
  log(`profiled download: ${what}, peak RSS ${fmt(mb(result.peakRss), 0)} MB${result.match || result.status === "error" ? "" : ", SHA256 MISMATCH"}`);
  // the sidecar writes its profile as it exits
  await stack.stop();
  const files = (await readdir(dir)).filter((name) => name.includes(`.${pid}.`) && name.endsWith(".cpuprofile")).sort();
  if (files.length === 0) throw new BenchError(`the sidecar (pid ${pid}) wrote no profile in ${dir}; see the stack's output`);
  const map = await bundleMap();
  console.log(`\n=== CPU profile of the sidecar (pid ${pid}) during one unthrottled 2 GiB download (profiled: it runs slower) ===`);
  console.log(`profiles in ${dir} (Chrome DevTools' Performance panel opens them)`);
  // the profile sees JavaScript's thread; libuv's pool threads (file writes, fsync) count only in /proc
  console.log(`the download: ${what}; CPU is the whole process's, all threads; the profile covers the JavaScript thread`);
  for (const name of files) printTop(path.join(dir, name), JSON.parse(await readFile(path.join(dir, name), "utf8")), map);
}
