/**
 * Packages the service once for every file of the cloud project (10-60 s: the main cost of these tests),
 * which read the template and run the zips; no stack is started.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { packageInto } from "./package";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where `npm run package` put the template and the functions' zips for this run. */
    packageDir: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "models-admin-package-"));
  await packageInto(dir);
  project.provide("packageDir", dir);
  return async () => {
    if (process.env.KEEP_TEST_DIRS) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  };
}
