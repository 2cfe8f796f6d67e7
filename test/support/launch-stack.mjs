// The one way the tests, `npm run bench` and `npm run load` start the service: `node scripts/run.mjs server`,
// which is what `npm start` runs (serverless-offline and the sidecar under one supervisor). It runs in a
// process group of its own, so that whatever it started can be killed together when it does not stop.
// Plain JavaScript so that the .mjs scripts can import it; its types are in launch-stack.d.mts.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The line the server prints once the API answers. */
const READY_LINE = /Models admin API ready on/;

/** Signals every process of the group that `pid` leads; a group already gone is not an error. */
export function killGroup(pid, signal = "SIGKILL") {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Sends `signal` to a detached child (to its whole group with `group`), waits for it to exit, and SIGKILLs
 * the group when it has not exited within `graceMs`. Resolves with its exit code (null when a signal ended it).
 */
export async function stopChild(child, { signal = "SIGTERM", graceMs = 15_000, group = false } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  if (group) killGroup(child.pid, signal);
  else child.kill(signal);
  const timer = setTimeout(() => killGroup(child.pid), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/**
 * Starts the service on 127.0.0.1:`port` with its studio and ComfyUI folders. Its environment is `baseEnv`
 * (PATH and HOME unless given), the folders and the port, then `env`. Every line it prints is kept in
 * `output`, appended to `logFile` when given, and handed to `onLine`. `ready` resolves once it says it is
 * ready; when it exits before, or is not ready within `readyTimeoutMs`, its group is killed and `ready`
 * rejects with what it printed. Returned at once, so that a script can arrange its stop before it waits.
 */
export function spawnStack(options) {
  const { studioDir, comfyuiDir, port, env = {}, logFile, onLine, readyTimeoutMs = 60_000 } = options;
  const baseEnv = options.baseEnv ?? { PATH: process.env.PATH, HOME: process.env.HOME };
  const child = spawn(process.execPath, ["scripts/run.mjs", "server"], {
    cwd: PROJECT_DIR,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...baseEnv, STUDIO_DIR: studioDir, COMFYUI_DIR: comfyuiDir, PORT: String(port), HOST: "127.0.0.1", ...env },
  });
  const output = [];
  const log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: "a" });
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  const said = new Promise((resolve, reject) => {
    const read = (input, stream) =>
      createInterface({ input }).on("line", (line) => {
        output.push(line);
        log?.write(`${line}\n`);
        onLine?.(line, stream);
        if (READY_LINE.test(line)) resolve();
      });
    read(child.stdout, "out");
    read(child.stderr, "err");
    void exited.then((code) => reject(new Error(`the stack exited (${child.signalCode ?? `code ${code}`}) before it was ready:\n${output.join("\n")}`)));
  });
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    process: child,
    output,
    exited,
    ready: readyWithin(said, readyTimeoutMs, output, () => killGroup(child.pid)),
    stop: (signal = "SIGTERM", graceMs = 15_000) => stopChild(child, { signal, graceMs }),
    kill: () => killGroup(child.pid),
  };
}

/** `said`, or a rejection after `ms`; `kill` runs on either failure. */
async function readyWithin(said, ms, output, kill) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stack was not ready within ${ms / 1000} s:\n${output.join("\n")}`)), ms);
  });
  try {
    await Promise.race([said, late]);
  } catch (error) {
    kill();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** spawnStack, resolved once the stack is ready. */
export async function launchStack(options) {
  const stack = spawnStack(options);
  await stack.ready;
  return stack;
}
