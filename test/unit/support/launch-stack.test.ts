// The stack launcher's own promises: how it stops a process group, and that a stack which never gets ready
// is reported with what it printed and leaves nothing running.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../support/stack";
import { launchStack, spawnStack, stopChild } from "../../support/launch-stack.mjs";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether `pid` runs: a zombie (ended, its parent gone, nobody reaping it in a container) does not. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** True once no process of the group `pid` leads is left, within `withinMs`. */
async function groupGone(pid: number, withinMs = 5_000): Promise<boolean> {
  for (let waited = 0; waited < withinMs; waited += 50) {
    if (!alive(-pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/**
 * A detached node process leading its own group, with a grandchild in that group; each ignores SIGTERM
 * when `stubborn`. Resolves once the grandchild runs, with its pid.
 */
async function family(stubborn: boolean): Promise<{ child: ChildProcess; grandchild: number }> {
  const ignore = stubborn ? "process.on('SIGTERM', () => {});" : "";
  const grandchild = `${ignore} setInterval(() => {}, 1000);`;
  const script = `${ignore} const g = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'ignore' }); console.log(g.pid); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["-e", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise<string>((resolve) => child.stdout!.once("data", (chunk: Buffer) => resolve(chunk.toString())));
  return { child, grandchild: Number(line.trim()) };
}

const groups: number[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const pid of groups.splice(0)) if (alive(-pid)) process.kill(-pid, "SIGKILL");
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("stopChild", () => {
  it("signals the leader only, leaving the rest of its group to it", async () => {
    const { child, grandchild } = await family(false);
    groups.push(child.pid!);

    const code = await stopChild(child, { signal: "SIGTERM", graceMs: 5_000 });

    expect(code).toBeNull();
    expect(child.signalCode).toBe("SIGTERM");
    expect(running(grandchild)).toBe(true);
  });

  it("SIGKILLs the whole group when the leader outlasts its grace", async () => {
    const { child, grandchild } = await family(true);
    groups.push(child.pid!);
    const started = Date.now();

    await stopChild(child, { signal: "SIGTERM", graceMs: 300 });

    expect(child.signalCode).toBe("SIGKILL");
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await groupGone(child.pid!)).toBe(true);
    expect(running(grandchild)).toBe(false);
  });
});

describe("launchStack", () => {
  async function folders() {
    const root = await mkdtemp(path.join(os.tmpdir(), "models-admin-launch-"));
    dirs.push(root);
    return { root, studioDir: path.join(root, "studio"), comfyuiDir: path.join(root, "ComfyUI") };
  }

  it("rejects with what the stack printed when it exits before it is ready, and logs it", async () => {
    const { root, studioDir, comfyuiDir } = await folders();
    const logFile = path.join(root, "stack.log");

    const launched = launchStack({ studioDir, comfyuiDir, port: await freePort(), env: { MAX_CONCURRENT_DOWNLOADS: "0" }, logFile });

    await expect(launched).rejects.toThrow(/^the stack exited \(code 1\) before it was ready:\n[\s\S]*MAX_CONCURRENT_DOWNLOADS/);
    expect(await readFile(logFile, "utf8")).toContain("MAX_CONCURRENT_DOWNLOADS");
  }, 30_000);

  it("kills the stack's whole group when it is not ready in time", async () => {
    const { studioDir, comfyuiDir } = await folders();

    const stack = spawnStack({ studioDir, comfyuiDir, port: await freePort(), readyTimeoutMs: 200 });
    groups.push(stack.process.pid!);

    await expect(stack.ready).rejects.toThrow(/^the stack was not ready within 0\.2 s/);
    expect(await groupGone(stack.process.pid!)).toBe(true);
  }, 30_000);
});
