// What `npm run bench` prints at the end: the table of medians, every run's figures, the sidecar's memory,
// the targets with PASS/FAIL, and the problems the service showed.
import { BATCH, fmt, GIB, mb, SOURCE, STACK_LOG, THROTTLE } from "./common.mjs";
import { figures, printTargets, ratio } from "./targets.mjs";

/** The scenarios in the order printed: the service's series and the references it is compared with. */
export function scenariosOf(m) {
  const batchMib = BATCH[0].size / 1024 ** 2;
  return [
    { title: `unthrottled ${SOURCE.size / GIB} GiB`, ours: m.unthrottled.ours, refs: [m.unthrottled.curl, m.unthrottled.curlSync, m.unthrottled.python] },
    { title: `throttled ${THROTTLE}/conn ${SOURCE.size / GIB} GiB`, ours: m.throttled.ours, refs: [m.throttled.aria2] },
    { title: `batch ${BATCH.length} x ${batchMib} MiB`, ours: m.batch.ours, refs: [m.batch.aria2] },
  ];
}

function table(scenarios) {
  const header = ["scenario", "tool", "median s", "MB/s", "ours / this", "CPU s/GiB"];
  const cells = [];
  for (const { title, ours, refs } of scenarios) {
    const mine = figures(ours);
    for (const series of [...refs, ours]) {
      const f = figures(series);
      const failed = series.skipped ? "skipped" : "ERROR";
      cells.push([
        title,
        series.name,
        f.seconds === undefined ? failed : fmt(f.seconds),
        fmt(f.mbps, 0),
        series === ours ? "" : fmt(ratio(mine.seconds, f.seconds)),
        fmt(f.cpuPerGib),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => (i >= 2 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

/** "[warm-up] run1 run2 ...": a figure of every run, the untimed warm-up first in brackets. */
function runsLine(series, figure) {
  const all = [series.warmUp, ...series.runs].map((r, i) => {
    const value = r.status === "error" ? "ERROR" : figure(r);
    return i === 0 ? `[${value}]` : value;
  });
  return all.join(" ");
}

function printRuns(scenarios) {
  console.log("\nEvery run ([untimed warm-up] then the timed runs): seconds | CPU s/GiB");
  for (const { title, ours, refs } of scenarios) {
    for (const series of [...refs, ours]) {
      const name = `  ${title} / ${series.name}:`;
      if (series.skipped) {
        console.log(`${name} skipped: ${series.skipped}`);
        continue;
      }
      const cpu = (r) => (r.cpuSeconds === undefined ? "-" : fmt(r.cpuSeconds / (r.bytes / GIB)));
      console.log(`${name} ${runsLine(series, (r) => fmt(r.seconds))} | ${runsLine(series, cpu)}`);
      for (const r of [series.warmUp, ...series.runs]) if (r.status === "error") console.log(`      error: ${r.error}`);
      if (series.runs.some((r) => !r.match && r.status !== "error")) console.log("      a copy's SHA256 differs from its source");
      if (series === ours) console.log(`      ${oursDetails(series)}`);
      else if (series.runs[0]?.note) console.log(`      ${series.runs.map((r) => r.note).join("; ")}`);
    }
  }
}

/** For the service's runs: how long the POST took to answer, the engine's own time, the peak RSS. */
function oursDetails(series) {
  const post = (r) => fmt((r.postSeconds ?? NaN) * 1000, 0);
  const engine = (r) => (r.engineSeconds === undefined ? "-" : fmt(r.engineSeconds, 1));
  const rss = (r) => fmt(mb(r.peakRss ?? NaN), 0);
  return `POST answered (ms) ${runsLine(series, post)}; engine's own seconds ${runsLine(series, engine)}; sidecar peak RSS (MB) ${runsLine(series, rss)}`;
}

function printMemory({ pid, idleRss, peakSample, hwm }) {
  const mbOf = (bytes) => (bytes === undefined ? "unreadable" : `${fmt(mb(bytes), 1)} MB`);
  console.log(`\nSidecar (pid ${pid}): idle RSS ${mbOf(idleRss)} after start-up; over the whole bench VmHWM ${mbOf(hwm)}, highest 100 ms VmRSS sample ${mbOf(peakSample)}`);
}

/**
 * Prints the report. `measured`: { runs, sources, unthrottled: { curl, curlSync, python, ours },
 * throttled: { aria2, ours }, batch: { aria2, ours }, memory, problems }.
 */
export function report(measured) {
  const scenarios = scenariosOf(measured);
  const { sources, runs } = measured;
  console.log(`\n=== Download benchmark: nginx on 127.0.0.1, page cache warm; median of ${runs} timed run(s) after 1 untimed warm-up ===`);
  console.log(`sources: ${sources.main.name} ${sources.main.size} bytes sha256 ${sources.main.sha}`);
  for (const source of sources.batch) console.log(`         ${source.name} ${source.size} bytes sha256 ${source.sha}`);
  console.log("MB = 10^6 bytes, GiB = 2^30 bytes; CPU = user + system seconds of the downloading process (ours: the sidecar)");
  console.log("ours = the service through its API, catalog entries with sha256, from the POST until done and listed present\n");
  console.log(table(scenarios));
  printRuns(scenarios);
  printMemory(measured.memory);
  printTargets(measured, scenarios);
  if (measured.problems.length > 0) {
    console.log("\nProblems seen in the service:");
    for (const problem of [...new Set(measured.problems)]) console.log(`  - ${problem}`);
  }
  console.log(`\nStack output: ${STACK_LOG}`);
}
