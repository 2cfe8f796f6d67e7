import { spawnSync } from "node:child_process";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireSidecarLock } from "../../../lib/daemon/single-instance";
import { makeTempDir, removeTempDir } from "../helpers";

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(() => removeTempDir(dir));

/** The pid of a process that has come and gone. */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid!;

describe("the sidecar's single-instance lock", () => {
  it("is taken over at once from a predecessor on this host that was killed", async () => {
    // what a sidecar killed with SIGKILL leaves: its lock folder and the note of who held it. The folder's
    // time is set an hour ahead, so the lock cannot go stale while this test runs: waiting for it to
    // expire (5 s) would exhaust the 20 s of retries and refuse, so only a takeover acquires it.
    const lock = path.join(dir, "sidecar.lock");
    await mkdir(lock);
    const anHourAhead = new Date(Date.now() + 3_600_000);
    await utimes(lock, anHourAhead, anHourAhead);
    const pid = deadPid();
    await writeFile(path.join(dir, "sidecar.holder.json"), JSON.stringify({ pid, host: os.hostname() }));
    const lines: string[] = [];

    const release = await acquireSidecarLock(dir, (line) => lines.push(line));
    const heldAfter = await stat(lock);
    await release();

    expect(lines).toEqual([`the previous sidecar (pid ${pid}) is gone; taking over its lock`]);
    // the folder is a new one, made by this process, not the predecessor's left in place
    expect(heldAfter.mtimeMs).toBeLessThan(anHourAhead.getTime() - 60_000);
    expect(JSON.parse(await readFile(path.join(dir, "sidecar.holder.json"), "utf8"))).toEqual({ pid: process.pid, host: os.hostname() });
  });
});
