/**
 * `npm run package` (sls package: no AWS credentials) into a folder, and the CloudFormation template it
 * writes there. The cloud project packages once per run (global-package.ts) for all of its files.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_DIR } from "./stack";

/**
 * The deploy environment `npm run package` sees, as an operator's would be: two CORS origins (one with a
 * wildcard, so the template has both kinds) and a catalog repository.
 */
export const PACKAGE_ENV = { CORS_ORIGINS: "chrome-extension://*,https://admin.example.com", CATALOG_REPO_URL: "https://git.example.com/catalog.git" };

/** And the `--param`s an operator gives (package.test.ts checks each one lands in the template). */
export const PACKAGE_PARAMS = {
  modelsDir: "/workspace/models",
  apiKeyParameter: "/team/models-admin/key",
  logRetentionInDays: "30",
  throttleRateLimit: "5",
  throttleBurstLimit: "10",
};

/** Written beside the package's folder by global-package.ts once `npm run package` is done, or has failed. */
export const PACKAGE_DONE = "packaged";
export const PACKAGE_FAILED = "package-failed";

export async function packageInto(dir: string): Promise<void> {
  const params = Object.entries(PACKAGE_PARAMS).map(([name, value]) => `--param=${name}=${value}`);
  await promisify(execFile)("npm", ["run", "package", "--", "--package", dir, ...params], {
    cwd: PROJECT_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...PACKAGE_ENV },
  });
}

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  Condition?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, { Type: string; Default?: string }>;
  Conditions?: Record<string, unknown>;
}

export async function packagedTemplate(dir: string): Promise<CfnTemplate> {
  return JSON.parse(await readFile(path.join(dir, "cloudformation-template-update-stack.json"), "utf8")) as CfnTemplate;
}
