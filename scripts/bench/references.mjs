// The references the service is measured against: curl on one connection (unthrottled) and aria2c on eight
// ranged connections (throttled), each run timed from start to exit and its copy checked against the source.
import { statSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { BenchError, log, OUT_DIR, sha256File, SOURCE_SIZE, syncDisks, timed } from "./common.mjs";

export async function measureCurl(url, sha, runs) {
  const out = path.join(OUT_DIR, "curl.bin");
  const results = [];
  for (let i = 1; i <= runs; i++) {
    await rm(out, { force: true });
    syncDisks();
    const result = await timed("curl", ["-s", "-o", out, url]);
    if (result.code !== 0) throw new BenchError(`curl failed (exit ${result.code}): ${result.stderr}`);
    const size = statSync(out).size;
    const syncStarted = Date.now();
    syncDisks();
    const syncSeconds = (Date.now() - syncStarted) / 1000;
    const match = size === SOURCE_SIZE && (await sha256File(out)) === sha;
    results.push({ seconds: result.seconds, match, note: `sync after it took ${syncSeconds.toFixed(2)} s` });
    log(`curl run ${i}: ${result.seconds.toFixed(2)} s${match ? "" : " SHA256 MISMATCH"}`);
    await rm(out, { force: true });
  }
  return results;
}

export async function measureAria2(url, sha, runs) {
  const name = "aria2.bin";
  const out = path.join(OUT_DIR, name);
  const results = [];
  for (let i = 1; i <= runs; i++) {
    await rm(out, { force: true });
    await rm(`${out}.aria2`, { force: true });
    syncDisks();
    const args = ["-x8", "-s8", "-k1M", "--file-allocation=none", "-d", OUT_DIR, "-o", name, "--allow-overwrite=true"];
    args.push("--console-log-level=warn", "--summary-interval=0", url);
    const result = await timed("aria2c", args, { stdio: ["ignore", "pipe", "pipe"] });
    if (result.code !== 0) throw new BenchError(`aria2c failed (exit ${result.code}): ${result.stderr}`);
    const match = statSync(out).size === SOURCE_SIZE && (await sha256File(out)) === sha;
    results.push({ seconds: result.seconds, match });
    log(`aria2c run ${i}: ${result.seconds.toFixed(2)} s${match ? "" : " SHA256 MISMATCH"}`);
    await rm(out, { force: true });
  }
  return results;
}
