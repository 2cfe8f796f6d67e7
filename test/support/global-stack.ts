/**
 * One running stack (npm start) shared by the integration files, which run one at a time, with a local
 * server standing in for CivitAI and Hugging Face. Retries and stall detection are shortened so that the
 * fault tests take seconds.
 */
import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startStack, tempDirs, testStackEnv } from "./stack";
import { createCatalogRemote } from "./upstream/git";
import { CIVITAI_API_KEY, HF_TOKEN, markersOnDisk } from "./secrets";
import { startUpstream } from "./upstream";

export const TEST_API_KEY = "test-key-5b7f0c1e9a";
export { CIVITAI_API_KEY, HF_TOKEN };

declare module "vitest" {
  export interface ProvidedContext {
    stack: {
      baseUrl: string;
      apiKey: string;
      studioDir: string;
      modelsDir: string;
      logFile: string;
      upstream: string;
      catalogRemote: { bare: string; work: string; url: string };
    };
  }
}

export default async function setup(project: TestProject) {
  const upstream = await startUpstream();
  const dirs = await tempDirs();
  const catalogRemote = createCatalogRemote(dirs.root);
  const stack = await startStack(dirs, {
    CATALOG_REPO_URL: catalogRemote.url,
    API_KEY: TEST_API_KEY,
    ...testStackEnv(upstream.url),
  });
  project.provide("stack", {
    baseUrl: stack.baseUrl,
    apiKey: TEST_API_KEY,
    studioDir: stack.studioDir,
    modelsDir: stack.modelsDir,
    logFile: stack.logFile,
    upstream: upstream.url,
    catalogRemote,
  });
  return async () => {
    await stack.stop("SIGTERM");
    await upstream.close();
    // every scenario of every integration file has run with the marker credentials: none may be in the
    // stack's log, its status and state files, the catalogs or the models folder's small files
    const hits = await markersOnDisk(stack.logFile, stack.studioDir, stack.modelsDir);
    // KEEP_TEST_DIRS=1 keeps the studio, the models and the stack's log for a look after a failure
    if (process.env.KEEP_TEST_DIRS || hits.length > 0) console.log(`kept ${dirs.root}`);
    else await rm(dirs.root, { recursive: true, force: true });
    if (hits.length > 0) {
      // vitest only prints an error thrown here ("error during close") and still exits 0: set the code too
      process.exitCode = 1;
      throw new Error(`A marker credential was written to disk by the shared stack:\n${hits.map((hit) => `${hit.where}: ${hit.marker === HF_TOKEN ? "HF_TOKEN" : "CIVITAI_API_KEY"}`).join("\n")}`);
    }
  };
}
