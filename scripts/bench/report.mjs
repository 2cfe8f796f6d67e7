// What `npm run bench` prints at the end: a table of the best runs, every run's details, and the targets.
import { fmt, mb, SOURCE_SIZE, STACK_LOG, TARGETS, THROTTLE } from "./common.mjs";

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

/** The table's rows: each reference, then the service against it (its best run, their ratio, its peak RSS). */
function rowsOf({ curl, aria2, fast, slow, single, singleHwm }) {
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
  return rows;
}

function printDetails(rows, { single, hwm, sidecarPid, idleRss, singleHwm, singleIdle }) {
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
}

function printTargets(rows, { fast, slow, hwm, problems }) {
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
}

/**
 * Prints the report. `measured` holds each measurement's runs (curl, aria2, fast, slow, and single unless
 * skipped), the 8-connection sidecar's pid, idle RSS and VmHWM, the 1-connection one's, and the problems seen.
 */
export function report(options, sha, measured) {
  const rows = rowsOf(measured);
  console.log("\n=== Download benchmark: 2 GiB (2147483648 bytes) from nginx on 127.0.0.1, page cache warm ===");
  console.log(`source sha256 ${sha}; MB = 10^6 bytes; best of ${options.runs} run(s)\n`);
  console.log(table(rows));
  printDetails(rows, measured);
  printTargets(rows, measured);
  console.log(`\nStack output: ${STACK_LOG}`);
}
