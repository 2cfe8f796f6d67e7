// The 2 GiB file every download of the benchmark fetches: random bytes, written once and kept in BENCH_DIR
// for the next run, with its SHA256 cached beside it.
import { randomFillSync } from "node:crypto";
import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { BENCH_DIR, log, sha256File, SOURCE, SOURCE_SIZE } from "./common.mjs";

/** Writes the source unless a file of its size is there; resolves with its SHA256. */
export async function ensureSource() {
  await mkdir(BENCH_DIR, { recursive: true });
  const hashFile = `${SOURCE}.sha256`;
  const current = await stat(SOURCE).catch(() => undefined);
  if (current?.size === SOURCE_SIZE) {
    // the hash is cached beside the file, keyed by its size and mtime
    const cached = await readFile(hashFile, "utf8").catch(() => "");
    const [key, sha] = cached.trim().split(" ");
    if (key === `${current.size}:${current.mtimeMs}` && /^[0-9a-f]{64}$/.test(sha ?? "")) {
      log(`reusing ${SOURCE} (2 GiB), sha256 ${sha}`);
      return sha;
    }
  } else {
    await writeSource();
  }
  const started = Date.now();
  const sha = await sha256File(SOURCE);
  const fresh = await stat(SOURCE);
  await writeFile(hashFile, `${fresh.size}:${fresh.mtimeMs} ${sha}\n`);
  log(`sha256 ${sha} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return sha;
}

async function writeSource() {
  log(`writing 2 GiB of random bytes to ${SOURCE}`);
  const started = Date.now();
  const temp = `${SOURCE}.tmp`;
  const handle = await open(temp, "w", 0o644);
  try {
    const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
    for (let written = 0; written < SOURCE_SIZE; written += chunk.length) {
      randomFillSync(chunk);
      await handle.write(chunk, 0, chunk.length, written);
    }
  } finally {
    await handle.close();
  }
  await rename(temp, SOURCE);
  log(`written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
