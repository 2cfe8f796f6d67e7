/**
 * Bundles the functions once per test run, as `npm start` bundles them (`sls offline start --stage local`,
 * stopped once it is ready), into a work folder of the project that the run's stacks then serve
 * (PREBUILT_FUNCTIONS, read by lib/server/main.ts and scripts/serverless-prebuilt.cjs): some twenty stacks
 * start in a run, and each would spend 4-5 s of both cores bundling the same code. Built in the run, never
 * reused from an earlier one, so no stack serves stale code. The projects that start stacks (integration,
 * fault, e2e) all name this file; the first to run it builds, and the last teardown removes the folder.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { PROJECT_DIR } from "./launch-stack.mjs";
import { bundleFunctions, PREBUILT_ENV } from "./prebuilt-functions";

interface Shared {
  folder: string;
  built: Promise<void>;
  users: number;
}

// the projects' global setups are separate module instances in the one vitest process: they meet here
const KEY = Symbol.for("models-admin.prebuilt-functions");
const registry = globalThis as { [KEY]?: Shared };

export default async function setup(_project: TestProject) {
  let shared = registry[KEY];
  if (shared === undefined) {
    const folder = `.esbuild-test-${process.pid}`;
    shared = { folder, built: bundleFunctions(folder), users: 0 };
    registry[KEY] = shared;
  }
  shared.users += 1;
  await shared.built;
  // the stacks started here (global-stack.ts) and in the test workers, which vitest forks with this
  // process's environment, find it there (stack.ts passes it on to npm start)
  process.env[PREBUILT_ENV] = shared.folder;
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete registry[KEY];
    delete process.env[PREBUILT_ENV];
    await rm(path.join(PROJECT_DIR, shared.folder), { recursive: true, force: true });
  };
}
