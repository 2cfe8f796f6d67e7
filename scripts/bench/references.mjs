// The unthrottled scenario's references, on one connection each: curl (its exit, then the same run with
// the `sync` after it) and the Python original's loop (requests, 8 MiB chunks, rename). Every run's copy
// is checked against the source after its time is taken, then removed.
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BenchError, matches, OUT_DIR, run, series, syncDisks } from "./common.mjs";
import { timedWithCpu } from "./cpu.mjs";

const LOOP_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "requests-loop.py");

/**
 * curl to a file, then `sync`. One run gives both rows of the table: "curl" is curl's own time, and
 * "curl then sync" adds the sync that follows it at once, which is what a download that ends durable costs.
 */
export function measureCurl(url, source, runs) {
  const out = path.join(OUT_DIR, "curl.bin");
  return series("curl", runs, async () => {
    await rm(out, { force: true });
    syncDisks();
    const result = await timedWithCpu("curl", ["-sS", "-o", out, url]);
    if (result.code !== 0) throw new BenchError(`curl failed (exit ${result.code}): ${result.stderr}`);
    const syncStarted = process.hrtime.bigint();
    syncDisks();
    const syncSeconds = Number(process.hrtime.bigint() - syncStarted) / 1e9;
    const match = await matches(out, source);
    await rm(out, { force: true });
    return { seconds: result.seconds, syncSeconds, cpuSeconds: result.cpuSeconds, bytes: source.size, match };
  });
}

/**
 * The series "curl then sync": each run of curl's with its sync's time added. No CPU figure: the sync's
 * work is the kernel's writeback, which no process's times show, so curl's alone would understate it.
 */
export function withSync(curl) {
  const add = (r) => ({ ...r, seconds: r.seconds + r.syncSeconds, cpuSeconds: undefined, note: `curl ${r.seconds.toFixed(2)} s + sync ${r.syncSeconds.toFixed(2)} s` });
  return { ...curl, name: "curl then sync", warmUp: add(curl.warmUp), runs: curl.runs.map(add) };
}

/**
 * The Python that runs the loop: Debian's /usr/bin/python3 when it has requests (python3-requests), else
 * the python3 on PATH when that one has it; undefined when neither does.
 */
export function findPython() {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      if (run(python, ["-c", "import requests"]).status === 0) return python;
    } catch {
      // not installed
    }
  }
  return undefined;
}

export function measurePython(python, url, source, runs) {
  const out = path.join(OUT_DIR, "python.bin");
  return series("python requests loop", runs, async () => {
    await rm(out, { force: true });
    await rm(`${out}.part`, { force: true });
    syncDisks();
    const result = await timedWithCpu(python, [LOOP_SCRIPT, url, out]);
    if (result.code !== 0) throw new BenchError(`${python} ${LOOP_SCRIPT} failed (exit ${result.code}): ${result.stderr}`);
    const match = await matches(out, source);
    await rm(out, { force: true });
    return { seconds: result.seconds, cpuSeconds: result.cpuSeconds, bytes: source.size, match };
  });
}
