// The medians of each series, and issue 13's targets: each with its measured value and PASS or FAIL.
import { fmt, GIB, mb, median, TARGETS } from "./common.mjs";

export const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b);

/** A series' medians (none when it failed or was skipped): seconds, MB/s, CPU seconds per GiB. */
export function figures(series) {
  if (!series || series.skipped || series.failed || series.runs.length === 0) return {};
  const seconds = median(series.runs.map((r) => r.seconds));
  const bytes = series.runs[0].bytes;
  const cpu = series.runs.map((r) => r.cpuSeconds).filter((c) => c !== undefined);
  const cpuPerGib = cpu.length === series.runs.length ? median(cpu.map((c) => c / (bytes / GIB))) : undefined;
  return { seconds, mbps: mb(bytes) / seconds, cpuPerGib };
}

/** Every series the service and the references ran, each run's copy checked: true when all matched. */
function allCopiesMatch(scenarios) {
  const series = scenarios.flatMap(({ ours, refs }) => [ours, ...refs]).filter((s) => s && !s.skipped);
  const runs = series.flatMap((s) => [s.warmUp, ...s.runs]).filter((r) => r.status !== "error");
  return runs.length > 0 && runs.every((r) => r.match);
}

/** The targets' lines: [what, target, measured (number or undefined), unit, why undefined]. */
function targetLines(measured, scenarios) {
  const [fast, slow, batch] = scenarios.map(({ ours, refs }) => ({ ours: figures(ours), refs: refs.map(figures) }));
  const [curl, curlSync, python] = fast.refs;
  const { hwm, peakSample } = measured.memory;
  const peak = Math.max(hwm ?? 0, peakSample ?? 0) || undefined;
  const pythonSkipped = measured.unthrottled.python.skipped;
  return [
    ["unthrottled: ours / (curl then sync)", `<= ${fmt(TARGETS.oursToCurlSync)}`, ratio(fast.ours.seconds, curlSync.seconds) <= TARGETS.oursToCurlSync, fmt(ratio(fast.ours.seconds, curlSync.seconds))],
    ["unthrottled: ours / curl", `<= ${fmt(TARGETS.oursToCurl)}`, ratio(fast.ours.seconds, curl.seconds) <= TARGETS.oursToCurl, fmt(ratio(fast.ours.seconds, curl.seconds))],
    pythonSkipped
      ? ["unthrottled: ours / python requests loop", `<= ${fmt(TARGETS.oursToPython)}`, undefined, `not measured (${pythonSkipped})`]
      : ["unthrottled: ours / python requests loop", `<= ${fmt(TARGETS.oursToPython)}`, ratio(fast.ours.seconds, python.seconds) <= TARGETS.oursToPython, fmt(ratio(fast.ours.seconds, python.seconds))],
    ["throttled: ours / aria2c -x8 -s8", `<= ${fmt(TARGETS.oursToAria2)}`, ratio(slow.ours.seconds, slow.refs[0].seconds) <= TARGETS.oursToAria2, fmt(ratio(slow.ours.seconds, slow.refs[0].seconds))],
    ["batch: ours / aria2c -j3 -x8 -s8", `<= ${fmt(TARGETS.batchToAria2)}`, ratio(batch.ours.seconds, batch.refs[0].seconds) <= TARGETS.batchToAria2, fmt(ratio(batch.ours.seconds, batch.refs[0].seconds))],
    ["sidecar peak RSS, whole bench (MB)", `<= ${TARGETS.rssMb}`, peak !== undefined && mb(peak) <= TARGETS.rssMb, peak === undefined ? "unreadable" : `${fmt(mb(peak), 1)} MB`],
    [
      "CPU s/GiB unthrottled: ours / curl",
      `<= ${fmt(TARGETS.cpuToCurl)}`,
      ratio(fast.ours.cpuPerGib, curl.cpuPerGib) <= TARGETS.cpuToCurl,
      `${fmt(ratio(fast.ours.cpuPerGib, curl.cpuPerGib))} (${fmt(fast.ours.cpuPerGib)} / ${fmt(curl.cpuPerGib)})`,
    ],
    ["every copy's SHA256 equals its source's", "all", allCopiesMatch(scenarios), allCopiesMatch(scenarios) ? "all" : "NOT all"],
  ];
}

/** Prints the targets block: a missing figure (a failed series) is a FAIL, a skipped reference says so. */
export function printTargets(measured, scenarios) {
  const lines = targetLines(measured, scenarios);
  const widths = [0, 1, 3].map((i) => Math.max(...lines.map((line) => line[i].length)));
  console.log("\nTargets:");
  for (const [what, target, ok, value] of lines) {
    const verdict = ok === undefined ? "SKIPPED" : ok ? "PASS" : "FAIL";
    console.log(`  ${what.padEnd(widths[0])}  ${target.padEnd(widths[1])}  ${value.padEnd(widths[2])}  ${verdict}`);
  }
}
