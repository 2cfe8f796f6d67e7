import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
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
    // what a sidecar killed with SIGKILL leaves: its fresh lock folder and the note of who held it
    await mkdir(path.join(dir, "sidecar.lock"));
    const pid = deadPid();
    await writeFile(path.join(dir, "sidecar.holder.json"), JSON.stringify({ pid, host: os.hostname() }));
    const lines: string[] = [];

    const started = Date.now();
    const release = await acquireSidecarLock(dir, (line) => lines.push(line));
    const waited = Date.now() - started;
    await release();

    // not the 5 s a stale lock takes to expire
    expect(waited).toBeLessThan(1_000);
    expect(lines).toEqual([`the previous sidecar (pid ${pid}) is gone; taking over its lock`]);
    expect(JSON.parse(await readFile(path.join(dir, "sidecar.holder.json"), "utf8"))).toEqual({ pid: process.pid, host: os.hostname() });
  });
});
