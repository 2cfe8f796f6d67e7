import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { freeLoopbackPorts } from "./ports";
import { CIVITAI_API_KEY, HF_TOKEN } from "./secrets";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

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
 * Starts the service exactly as `npm start` does (node scripts/run.mjs server), in its own process group,
 * and resolves once it says it is ready. Its output is kept for assertions.
 */
export async function startStack(dirs: StackDirs, env: NodeJS.ProcessEnv = {}): Promise<RunningStack> {
  const port = await freePort();
  const child = spawn(process.execPath, ["scripts/run.mjs", "server"], {
    cwd: PROJECT_DIR,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      STUDIO_DIR: dirs.studioDir,
      COMFYUI_DIR: path.dirname(dirs.modelsDir),
      PORT: String(port),
      HOST: "127.0.0.1",
      ...env,
    },
  });
  const output: string[] = [];
  const logFile = path.join(dirs.root, `stack-${port}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      log.write(`${line}\n`);
      if (/Models admin API ready on/.test(line)) resolve();
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    void exited.then((code) => reject(new Error(`stack exited with ${code} before ready:\n${output.join("\n")}`)));
  });
  const stop = async (signal: NodeJS.Signals = "SIGINT") => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
    const timer = setTimeout(() => killGroup(child.pid!), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  try {
    await withTimeout(ready, 60_000, () => `stack not ready within 60 s:\n${output.join("\n")}`);
  } catch (error) {
    killGroup(child.pid!);
    throw error;
  }
  return { ...dirs, baseUrl: `http://127.0.0.1:${port}`, logFile, output, process: child, stop };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
