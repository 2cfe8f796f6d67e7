import { mkdir, readFile, rmdir, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STALE_MS, withFileLock } from "../../../lib/fs/lock";
import { makeTempDir, removeTempDir, rejection } from "../helpers";

/**
 * The lock's promise to its holder: a change whose lock was taken over is never written. Here the taker
 * is played in-process, at the moment the holder is inside its change (test/fault/stalled-lock.test.ts
 * does it with real processes and SIGSTOP).
 */
let dir: string;
let file: string;
let lockDir: string;

beforeEach(async () => {
  dir = await makeTempDir();
  file = path.join(dir, "state.json");
  lockDir = `${file}.lock`;
  await writeFile(file, "start");
});

afterEach(() => removeTempDir(dir));

/** What a process that took the stale lock over does, as far as this holder can see: its folder goes, the taker writes and releases. */
async function takeOverAndWrite(content: string): Promise<void> {
  await rmdir(lockDir);
  await writeFile(file, content);
}

describe("withFileLock", () => {
  it("makes a change whose lock was taken over again on what the taker wrote, instead of writing over it", async () => {
    const reads: string[] = [];

    const result = await withFileLock(file, async (lease) => {
      const before = await readFile(file, "utf8");
      reads.push(before);
      if (reads.length === 1) await takeOverAndWrite("taker");
      await lease.write(`${before}+mine`);
      return "done";
    });

    expect(result).toBe("done");
    expect(reads).toEqual(["start", "taker"]);
    expect(await readFile(file, "utf8")).toBe("taker+mine");
    await expect(stat(lockDir)).rejects.toThrow(/ENOENT/);
  });

  it("answers 503 saying to try again, and writes nothing, when the lock is lost on every attempt", async () => {
    let runs = 0;

    const error = await rejection(
      withFileLock(file, async (lease) => {
        runs += 1;
        await takeOverAndWrite(`taker ${runs}`);
        await lease.write("mine");
      }),
    );

    expect(error.name).toBe("BusyError");
    expect(error.message).toMatch(/state\.json was not changed.*try again/);
    expect(runs).toBe(3);
    expect(await readFile(file, "utf8")).toBe("taker 3");
  });

  it("leaves the lock of the process that took it over when it releases its own", async () => {
    // a taker's folder carries the taker's clock, more than STALE_MS past the last time this holder renewed it
    const takerMtime = new Date(Date.now() + STALE_MS + 1_000);

    await withFileLock(file, async () => {
      await rmdir(lockDir);
      await mkdir(lockDir);
      await utimes(lockDir, takerMtime, takerMtime);
    });

    expect((await stat(lockDir)).mtime.getTime()).toBe(takerMtime.getTime());
  });

  it("writes, and removes its lock, when nobody took it over", async () => {
    await withFileLock(file, (lease) => lease.write("mine"));

    expect(await readFile(file, "utf8")).toBe("mine");
    await expect(stat(lockDir)).rejects.toThrow(/ENOENT/);
  });
});
