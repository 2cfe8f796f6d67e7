import { createHash } from "node:crypto";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cacheKey, freshHash, hashCachePath, readHashCache, recordHashes } from "../../../lib/state/hash-cache";
import { hashFile } from "../../../lib/volume/hash-file";
import { makeTempDir, removeTempDir } from "../helpers";

let root: string;
const config = () => ({ stateDir: path.join(root, "state") });

beforeEach(async () => {
  root = await makeTempDir();
  await mkdir(path.join(root, "state"));
});
afterEach(() => removeTempDir(root));

describe("a file's hash", () => {
  it("is the SHA256 of its bytes, read by the hash worker, with the size and mtime it had", async () => {
    const file = path.join(root, "x.safetensors");
    const bytes = Buffer.alloc(9 * 1024 * 1024 + 7, 0x5a);
    await writeFile(file, bytes);
    const record = await hashFile(file, new AbortController().signal);
    expect(record.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(record.bytes).toBe(bytes.length);
    expect(record.mtime_ms).toBe((await stat(file)).mtimeMs);
  });

  it("stands only while the file keeps the size and mtime it was hashed with", async () => {
    const file = path.join(root, "models", "loras", "x.safetensors");
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "abc");
    const key = cacheKey(path.join(root, "models"), file);
    expect(key).toBe("loras/x.safetensors");
    await recordHashes(config(), new Map([[key, await hashFile(file, new AbortController().signal)]]));
    const cache = await readHashCache(config());
    expect(freshHash(cache, key, await stat(file))?.sha256).toBe(createHash("sha256").update("abc").digest("hex"));
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    expect(freshHash(cache, key, await stat(file))).toBeUndefined();
  });

  it("is kept when another record of the file is damaged", async () => {
    const good = { bytes: 3, mtime_ms: 1, sha256: "a".repeat(64), hashed_at: 2 };
    await writeFile(hashCachePath(config()), JSON.stringify({ files: { "a.safetensors": good, "b.safetensors": { bytes: "3" } }, matches: {} }));
    const cache = await readHashCache(config());
    expect(cache.files).toEqual({ "a.safetensors": good });
    await recordHashes(config(), new Map([["c.safetensors", { ...good, bytes: 4 }]]));
    expect(Object.keys(JSON.parse(await readFile(hashCachePath(config()), "utf8")).files).sort()).toEqual(["a.safetensors", "c.safetensors"]);
  });
});
