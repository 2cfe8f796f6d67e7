/**
 * The functions bundled once for a test run's stacks (global-functions.ts): `sls offline start --stage
 * local`, the very command `npm start` runs, into a work folder of the project, stopped once it is ready
 * (serverless-offline leaves its bundles in place).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { killGroup, PROJECT_DIR, stopChild } from "./launch-stack.mjs";

/** The variable that hands the folder to lib/server/main.ts (a folder name inside the project). */
export const PREBUILT_ENV = "PREBUILT_FUNCTIONS";

/** PREBUILT_FUNCTIONS for a stack, when this run has bundled the functions (else nothing). */
export function prebuiltEnv(): NodeJS.ProcessEnv {
  const folder = process.env[PREBUILT_ENV];
  return folder ? { [PREBUILT_ENV]: folder } : {};
}

export async function bundleFunctions(folder: string, timeoutMs = 120_000): Promise<void> {
  const sockets = await mkdtemp(path.join(os.tmpdir(), "models-admin-bundle-"));
  const child = spawn(
    path.join(PROJECT_DIR, "node_modules", ".bin", "sls"),
    ["offline", "start", "--stage", "local", "--httpPort", path.join(sockets, "http.sock"), "--lambdaPort", path.join(sockets, "lambda.sock")],
    {
      cwd: PROJECT_DIR,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ESBUILD_WORK_FOLDER: folder },
    },
  );
  const output: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bundling the functions took over ${timeoutMs / 1000} s`)), timeoutMs);
      const onLine = (line: string) => {
        output.push(line);
        if (!/Server ready:/.test(line)) return;
        clearTimeout(timer);
        resolve();
      };
      createInterface({ input: child.stdout! }).on("line", onLine);
      createInterface({ input: child.stderr! }).on("line", onLine);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sls offline exited (${signal ?? `code ${code}`}) before it was ready`));
      });
    });
  } catch (error) {
    killGroup(child.pid!);
    await rm(path.join(PROJECT_DIR, folder), { recursive: true, force: true });
    throw new Error(`Could not bundle the functions for the test stacks: ${(error as Error).message}\n${output.join("\n")}`);
  } finally {
    await stopChild(child, { group: true, graceMs: 5_000 });
    await rm(sockets, { recursive: true, force: true });
  }
}
