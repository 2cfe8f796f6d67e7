/**
 * This run's package (global-package.ts), for the cloud files: its folder, once `npm run package` is done
 * writing it, or the error it failed with.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { inject } from "vitest";
import { PACKAGE_DONE, PACKAGE_FAILED } from "./package";

export async function packagedDir(timeoutMs = 110_000): Promise<string> {
  const dir = inject("packageDir");
  const beside = (name: string) => path.join(path.dirname(dir), name);
  for (const started = Date.now(); Date.now() - started < timeoutMs; await new Promise((resolve) => setTimeout(resolve, 200))) {
    if (await stat(beside(PACKAGE_DONE)).then(() => true, () => false)) return dir;
    const failure = await readFile(beside(PACKAGE_FAILED), "utf8").catch(() => undefined);
    if (failure !== undefined) throw new Error(`npm run package failed: ${failure}`);
  }
  throw new Error(`npm run package was not done within ${timeoutMs / 1000} s`);
}
