import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startStack, tempDirs } from "./stack";

export const TEST_API_KEY = "test-key-5b7f0c1e9a";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { baseUrl: string; apiKey: string; studioDir: string; modelsDir: string };
  }
}

/** One running stack (npm start) shared by the integration files, which run one at a time. */
export default async function setup(project: TestProject) {
  const dirs = await tempDirs();
  const stack = await startStack(dirs, { API_KEY: TEST_API_KEY });
  project.provide("stack", {
    baseUrl: stack.baseUrl,
    apiKey: TEST_API_KEY,
    studioDir: stack.studioDir,
    modelsDir: stack.modelsDir,
  });
  return async () => {
    await stack.stop("SIGTERM");
    await rm(dirs.root, { recursive: true, force: true });
  };
}
