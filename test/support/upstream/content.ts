/**
 * The stand-in's file content: deterministic pseudo-random bytes from (id, seed), made lazily in 64 KiB
 * blocks (block k depends only on (seed, id, k)), so files of any size cost no memory and ranges start
 * anywhere. `fileBytes()` and `fileSha256()` compute the same content in the test's own process.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

export const BLOCK_SIZE = 64 * 1024;
const WORDS_PER_BLOCK = BLOCK_SIZE / 4;

/** MurmurHash3's 32-bit finaliser: every bit of `h` moves every bit of the result. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const baseKeys = new Map<string, Uint32Array>();

function baseKey(id: string, seed: number): Uint32Array {
  const k = `${seed}\0${id}`;
  let key = baseKeys.get(k);
  if (!key) {
    const d = createHash("sha256").update(k).digest();
    key = new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
    if (baseKeys.size > 10_000) baseKeys.clear();
    baseKeys.set(k, key);
  }
  return key;
}

/** Block `index` (64 KiB, xorshift128 seeded from (seed, id, index)). Little-endian words, as on every host we run on. */
function block(key: Uint32Array, index: number): Buffer {
  const lo = index >>> 0;
  const hi = Math.floor(index / 2 ** 32) >>> 0;
  let x = fmix32((key[0] ?? 0) ^ fmix32(lo + 0x632be5ab)) | 0;
  let y = fmix32((key[1] ?? 0) ^ fmix32(hi + 0x9e3779b9)) | 0;
  let z = fmix32((key[2] ?? 0) ^ fmix32(lo ^ 0x85157af5)) | 0;
  let w = fmix32((key[3] ?? 0) ^ fmix32(~lo ^ hi)) | 0;
  if ((x | y | z | w) === 0) w = 1;
  const out = new Uint32Array(WORDS_PER_BLOCK);
  for (let i = 0; i < 8; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
  }
  for (let i = 0; i < WORDS_PER_BLOCK; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    out[i] = w;
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Yields the bytes [start, end) of the content of (id, seed) in pieces of at most `chunk` bytes, block-aligned. */
export function* chunks(id: string, seed: number, start: number, end: number, chunk = BLOCK_SIZE): Generator<Buffer> {
  const key = baseKey(id, seed);
  let pos = start;
  let cached: { index: number; data: Buffer } | null = null;
  while (pos < end) {
    const index = Math.floor(pos / BLOCK_SIZE);
    if (!cached || cached.index !== index) cached = { index, data: block(key, index) };
    const from = pos - index * BLOCK_SIZE;
    const to = Math.min(BLOCK_SIZE, end - index * BLOCK_SIZE, from + chunk);
    yield cached.data.subarray(from, to);
    pos += to - from;
  }
}

/** The content bytes [start, end) (end exclusive) of file `id` with `seed`. Meant for small ranges. */
export function fileBytes(id: string, seed: number, start: number, end: number): Buffer {
  if (!(start >= 0 && end >= start)) throw new RangeError(`bad range ${start}..${end}`);
  return Buffer.concat([...chunks(id, seed, start, end)]);
}

/** Hex sha256 of the whole content of `id` (size bytes, seed). Synchronous; ~1 s per GiB. */
export function fileSha256(id: string, size: number, seed = 0): string {
  const hash = createHash("sha256");
  for (const c of chunks(id, seed, 0, size)) hash.update(c);
  return hash.digest("hex");
}

/** The seed actually served for `wrong-bytes` (generation 1) and for `change-etag-after-first` after the change. */
export function alteredSeed(seed: number, generation = 1): number {
  return seed + 1_000_003 * generation;
}

export interface Digest {
  sha256: string;
  crc32: number;
}
const digests = new Map<string, Promise<Digest>>();

/** sha256 + crc32 computed by streaming, yielding to the event loop every 4 MiB; memoised. */
export function digest(id: string, size: number, seed: number): Promise<Digest> {
  const k = `${seed}\0${size}\0${id}`;
  let p = digests.get(k);
  if (!p) {
    p = (async () => {
      const hash = createHash("sha256");
      let crc = 0;
      let n = 0;
      for (const c of chunks(id, seed, 0, size)) {
        hash.update(c);
        crc = crc32(c, crc);
        if (++n % 64 === 0) await new Promise<void>((r) => setImmediate(r));
      }
      return { sha256: hash.digest("hex"), crc32: crc >>> 0 };
    })();
    digests.set(k, p);
  }
  return p;
}
