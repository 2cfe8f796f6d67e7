/**
 * Packages the service once for every file of the cloud project (20-60 s: the main cost of these tests),
 * which read the template and run the zips; no stack is started. It packages in the background, from the
 * start of the run: the cloud files run last, and wait for it (packaged.ts) should it not be done by then.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { PACKAGE_DONE, PACKAGE_FAILED, packageInto } from "./package";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where `npm run package` puts the template and the functions' zips for this run (see packaged.ts). */
    packageDir: string;
  }
}

export default async function setup(project: TestProject) {
  // the package's own folder holds only what `sls package` writes; the outcome is noted beside it
  const root = await mkdtemp(path.join(os.tmpdir(), "models-admin-package-"));
  const dir = path.join(root, "package");
  await mkdir(dir);
  const packaging = packageInto(dir).then(
    () => writeFile(path.join(root, PACKAGE_DONE), ""),
    (error: unknown) => writeFile(path.join(root, PACKAGE_FAILED), `${(error as Error).message}`),
  );
  project.provide("packageDir", dir);
  return async () => {
    await packaging;
    if (process.env.KEEP_TEST_DIRS) console.log(`kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  };
}
