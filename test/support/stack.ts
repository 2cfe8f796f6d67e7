import type { ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { launchStack, PROJECT_DIR } from "./launch-stack.mjs";
import { freeLoopbackPorts } from "./ports";
import { prebuiltEnv } from "./prebuilt-functions";
import { CIVITAI_API_KEY, HF_TOKEN } from "./secrets";

export { PROJECT_DIR };

/**
 * What every test stack runs with: the local stand-in for CivitAI and Hugging Face at `upstreamUrl`, the
 * marker credentials (which must never show anywhere), and retries and stall detection shortened so that
 * fault tests take seconds. ALLOW_PRIVATE_URLS is on: every test server lives on 127.0.0.1, the stand-in's
 * redirects lead to its other name (localhost, as a CDN is another host), and catalog `url` entries point
 * at servers on other loopback ports. test/fault/ssrf.test.ts turns it off to test the refusals.
 */
export function testStackEnv(upstreamUrl: string): NodeJS.ProcessEnv {
  return {
    HF_ENDPOINT: upstreamUrl,
    CIVITAI_BASE_URL: upstreamUrl,
    HF_TOKEN,
    CIVITAI_API_KEY,
    DOWNLOAD_CONNECTIONS: "4",
    MAX_CONCURRENT_DOWNLOADS: "3",
    DOWNLOAD_STALL_SECONDS: "2",
    DOWNLOAD_RETRY_BASE_MS: "100",
    DOWNLOAD_MAX_ATTEMPTS: "4",
    METADATA_TIMEOUT_SECONDS: "2",
    ALLOW_PRIVATE_URLS: "true",
  };
}

export interface StackDirs {
  readonly root: string;
  readonly studioDir: string;
  readonly modelsDir: string;
}

export interface RunningStack extends StackDirs {
  readonly baseUrl: string;
  /** Everything the stack printed, as it printed it: the API's, the sidecar's and the supervisor's lines. */
  readonly logFile: string;
  readonly output: string[];
  readonly process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A port for a stack's $PORT, from where the OS hands none out by itself (ports.ts says why). */
export async function freePort(): Promise<number> {
  const [port] = await freeLoopbackPorts(1);
  return port!;
}

export async function tempDirs(prefix = "models-admin-"): Promise<StackDirs> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { root, studioDir: path.join(root, "studio"), modelsDir: path.join(root, "ComfyUI", "models") };
}

/**
 * Starts the service exactly as `npm start` does (launch-stack.mjs), on a free port and with the folders of
 * `dirs`, and resolves once it says it is ready. Its output is kept for assertions and in a log file.
 * It serves the functions this test run bundled once (global-functions.ts), when it did; `ownBuild` has it
 * bundle them itself, as `npm start` on a fresh clone does.
 */
export async function startStack(dirs: StackDirs, env: NodeJS.ProcessEnv = {}, { ownBuild = false } = {}): Promise<RunningStack> {
  const port = await freePort();
  const logFile = path.join(dirs.root, `stack-${port}.log`);
  const stackEnv = { ...(ownBuild ? {} : prebuiltEnv()), ...env };
  const stack = await launchStack({ studioDir: dirs.studioDir, comfyuiDir: path.dirname(dirs.modelsDir), port, env: stackEnv, logFile });
  return { ...dirs, baseUrl: stack.baseUrl, logFile, output: stack.output, process: stack.process, stop: stack.stop };
}
