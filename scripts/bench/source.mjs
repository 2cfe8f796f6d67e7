// The files every download of the benchmark fetches: the 2 GiB source and the batch's three ~700 MB ones,
// random bytes written once and kept in BENCH_DIR for the next run, each with its SHA256 cached beside it.
import { randomFillSync } from "node:crypto";
import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BATCH, BENCH_DIR, log, sha256File, SOURCE } from "./common.mjs";

/** Every source, written when missing: { main, batch }, each { name, size, file, sha }. */
export async function ensureSources() {
  await mkdir(BENCH_DIR, { recursive: true });
  const main = await ensureFile(SOURCE);
  const batch = [];
  for (const spec of BATCH) batch.push(await ensureFile(spec));
  return { main, batch };
}

/** Writes the file unless one of its size is there; resolves with its description and SHA256. */
async function ensureFile({ name, size }) {
  const file = path.join(BENCH_DIR, name);
  const hashFile = `${file}.sha256`;
  const current = await stat(file).catch(() => undefined);
  if (current?.size === size) {
    // the hash is cached beside the file, keyed by its size and mtime
    const cached = await readFile(hashFile, "utf8").catch(() => "");
    const [key, sha] = cached.trim().split(" ");
    if (key === `${current.size}:${current.mtimeMs}` && /^[0-9a-f]{64}$/.test(sha ?? "")) {
      log(`reusing ${file} (${size} bytes), sha256 ${sha}`);
      return { name, size, file, sha };
    }
  } else {
    await writeRandom(file, size);
  }
  const started = Date.now();
  const sha = await sha256File(file);
  const fresh = await stat(file);
  await writeFile(hashFile, `${fresh.size}:${fresh.mtimeMs} ${sha}\n`);
  log(`${name}: sha256 ${sha} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return { name, size, file, sha };
}

async function writeRandom(file, size) {
  log(`writing ${size} random bytes to ${file}`);
  const started = Date.now();
  const temp = `${file}.tmp`;
  const handle = await open(temp, "w", 0o644);
  try {
    const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
    for (let written = 0; written < size; written += chunk.length) {
      randomFillSync(chunk);
      await handle.write(chunk, 0, Math.min(chunk.length, size - written), written);
    }
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  log(`written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
