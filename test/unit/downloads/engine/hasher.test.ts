/**
 * The SHA256 of a download computed while it downloads (hasher.ts): a worker thread reads the part file back
 * as far as it is written. Real files, written in pieces as a download writes them; the worker thread is the
 * real one, watched (not replaced) to see that it starts with the first download and ends with the last.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { open, writeFile } from "node:fs/promises";
import path from "node:path";
import type * as Threads from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CancelledError } from "../../../../lib/downloads/engine/errors";
import { PrefixHasher } from "../../../../lib/downloads/engine/hasher";
import { makeTempDir, removeTempDir } from "../../helpers";

const started = vi.hoisted((): Threads.Worker[] => []);
vi.mock("node:worker_threads", async (importOriginal) => {
  const real = await importOriginal<typeof Threads>();
  class Watched extends real.Worker {
    constructor(...args: ConstructorParameters<typeof real.Worker>) {
      super(...args);
      started.push(this);
    }
  }
  return { ...real, Worker: Watched };
});

const MiB = 1024 * 1024;
const sha256 = (content: Buffer) => createHash("sha256").update(content).digest("hex");
const running = () => new AbortController().signal;

let dir: string;
let files = 0;
beforeAll(async () => {
  dir = await makeTempDir();
});
afterAll(() => removeTempDir(dir));

/** A part file of `size` bytes as a ranged download makes it (all zeros until written), and a hasher on it. */
async function part(size: number) {
  const file = path.join(dir, `model-${files++}.part`);
  const handle = await open(file, "w");
  await handle.truncate(size);
  return { file, handle, hasher: new PrefixHasher(file) };
}

/** Writes `content` in pieces from byte 0 on, telling the hasher after each piece is in the file. */
async function writeInPieces(handle: Awaited<ReturnType<typeof open>>, hasher: PrefixHasher, content: Buffer, piece: number) {
  for (let at = 0; at < content.length; at += piece) {
    const chunk = content.subarray(at, at + piece);
    await handle.write(chunk, 0, chunk.length, at);
    hasher.advance(at + chunk.length);
  }
}

describe("PrefixHasher", () => {
  it("gives the SHA256 of the whole file, written in pieces and told of each", async () => {
    const content = randomBytes(9 * MiB + 123);
    const { handle, hasher } = await part(content.length);

    await writeInPieces(handle, hasher, content, MiB + 17);
    const digest = await hasher.digest(content.length, running());
    await handle.close();

    expect(digest).toBe(sha256(content));
  });

  it("hashes what is in the file up to the size asked, even past the last prefix it was told of", async () => {
    const content = randomBytes(9 * MiB);
    const { handle, hasher } = await part(content.length);
    await writeInPieces(handle, hasher, content.subarray(0, 2 * MiB), MiB);
    await handle.write(content, 2 * MiB, 7 * MiB, 2 * MiB);

    const digest = await hasher.digest(content.length, running());
    await handle.close();

    expect(digest).toBe(sha256(content));
  });

  it("keeps two downloads apart on one worker", async () => {
    const [one, two] = [randomBytes(6 * MiB + 1), randomBytes(5 * MiB - 1)];
    const [a, b] = [await part(one.length), await part(two.length)];
    const before = started.length;

    await Promise.all([writeInPieces(a.handle, a.hasher, one, MiB), writeInPieces(b.handle, b.hasher, two, 700_000)]);
    const digests = await Promise.all([a.hasher.digest(one.length, running()), b.hasher.digest(two.length, running())]);
    await Promise.all([a.handle.close(), b.handle.close()]);

    expect(digests).toEqual([sha256(one), sha256(two)]);
    expect(started.length - before).toBeLessThanOrEqual(1);
  });

  it("rejects with a sentence when the part file is shorter than the size asked", async () => {
    const file = path.join(dir, "short.part");
    await writeFile(file, randomBytes(1000));
    const hasher = new PrefixHasher(file);

    await expect(hasher.digest(2000, running())).rejects.toThrow(
      "Could not read the download back to check its SHA256: the part file is shorter than what was written",
    );
  });

  it("rejects with a sentence when the part file cannot be read", async () => {
    const hasher = new PrefixHasher(path.join(dir, "gone.part"));
    hasher.advance(10);

    await expect(hasher.digest(10, running())).rejects.toThrow(/^Could not read the download back to check its SHA256: ENOENT/);
  });

  it("stops at a cancel with CancelledError, and serves the next download as before", async () => {
    const content = randomBytes(8 * MiB);
    const first = await part(content.length);
    await first.handle.write(content, 0, content.length, 0);
    const cancel = new AbortController();

    const digest = first.hasher.digest(content.length, cancel.signal);
    cancel.abort();

    await expect(digest).rejects.toBeInstanceOf(CancelledError);
    await first.handle.close();
    const next = await part(MiB);
    await writeInPieces(next.handle, next.hasher, content.subarray(0, MiB), MiB);
    expect(await next.hasher.digest(MiB, running())).toBe(sha256(content.subarray(0, MiB)));
    await next.handle.close();
  });

  it("stops with CancelledError when cancelled before the digest was asked for, instead of hashing on", async () => {
    const { handle, hasher } = await part(MiB);
    const cancel = new AbortController();
    cancel.abort();

    // a resumed download's hash starts again from byte 0: the rest of it could take minutes
    await expect(hasher.digest(MiB, cancel.signal)).rejects.toBeInstanceOf(CancelledError);
    await handle.close();
  });

  it("ends its worker thread when the last download lets go, and starts one again for the next", async () => {
    const [a, b] = [await part(10), await part(10)];
    const worker = started.at(-1)!;
    let exited = false;
    const exit = once(worker, "exit").then(() => (exited = true));

    a.hasher.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(exited).toBe(false);
    b.hasher.close();
    await exit;

    const count = started.length;
    const c = await part(10);
    expect(started.length).toBe(count + 1);
    expect(await c.hasher.digest(10, running())).toBe(sha256(Buffer.alloc(10)));
    await Promise.all([a.handle.close(), b.handle.close(), c.handle.close()]);
  }, 5000);
});
