// aria2c, the reference of the throttled scenario (one file on eight ranged connections) and of the batch
// (three files at once, eight connections each). Copies are checked after the time is taken, then removed.
import { writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { BenchError, matches, OUT_DIR, series, syncDisks } from "./common.mjs";
import { timedWithCpu } from "./cpu.mjs";

// -k1M: ranges down to 1 MiB, so that all eight connections stay busy to the end of each file
const COMMON = ["-x8", "-s8", "-k1M", "--file-allocation=none", "--allow-overwrite=true", "--console-log-level=warn", "--summary-interval=0"];

async function removeCopy(file) {
  await rm(file, { force: true });
  await rm(`${file}.aria2`, { force: true });
}

/** `aria2c -x8 -s8` of one file. */
export function measureAria2(url, source, runs) {
  const name = "aria2.bin";
  const out = path.join(OUT_DIR, name);
  return series("aria2c -x8 -s8", runs, async () => {
    await removeCopy(out);
    syncDisks();
    const result = await timedWithCpu("aria2c", [...COMMON, "-d", OUT_DIR, "-o", name, url]);
    if (result.code !== 0) throw new BenchError(`aria2c failed (exit ${result.code}): ${result.stderr || result.stdout}`);
    const match = await matches(out, source);
    await removeCopy(out);
    return { seconds: result.seconds, cpuSeconds: result.cpuSeconds, bytes: source.size, match };
  });
}

/** `aria2c -j3 -x8 -s8 -i list`: the three batch files at once, each from its `urls[i]`. */
export async function measureAria2Batch(urls, sources, runs) {
  const list = path.join(OUT_DIR, "aria2-batch.txt");
  const outs = sources.map((source) => path.join(OUT_DIR, `aria2-${source.name}`));
  // aria2c's input file: a URL a line, its options indented on the lines under it
  await writeFile(list, sources.map((source, i) => `${urls[i]}\n  out=${path.basename(outs[i])}\n`).join(""));
  const bytes = sources.reduce((sum, source) => sum + source.size, 0);
  return series("aria2c -j3 -x8 -s8 (batch)", runs, async () => {
    for (const out of outs) await removeCopy(out);
    syncDisks();
    const result = await timedWithCpu("aria2c", ["-j3", ...COMMON, "-d", OUT_DIR, "-i", list]);
    if (result.code !== 0) throw new BenchError(`aria2c (batch) failed (exit ${result.code}): ${result.stderr || result.stdout}`);
    let match = true;
    for (const [i, out] of outs.entries()) match = (await matches(out, sources[i])) && match;
    for (const out of outs) await removeCopy(out);
    return { seconds: result.seconds, cpuSeconds: result.cpuSeconds, bytes, match };
  });
}
