// Types of test/support/launch-stack.mjs, for the TypeScript tests.
import type { ChildProcess } from "node:child_process";

export declare const PROJECT_DIR: string;

export declare function killGroup(pid: number, signal?: NodeJS.Signals): void;

export declare function stopChild(
  child: ChildProcess,
  options?: { signal?: NodeJS.Signals; graceMs?: number; group?: boolean },
): Promise<number | null>;

export interface LaunchOptions {
  readonly studioDir: string;
  /** The folder holding `models/`. */
  readonly comfyuiDir: string;
  readonly port: number;
  /** Set after the folders and the port: may override them. */
  readonly env?: NodeJS.ProcessEnv;
  /** What the environment starts from. Default: PATH and HOME only. */
  readonly baseEnv?: NodeJS.ProcessEnv;
  readonly logFile?: string;
  readonly onLine?: (line: string, stream: "out" | "err") => void;
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
}

export interface LaunchedStack {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** The supervisor (`node scripts/run.mjs server`), leader of the stack's process group. */
  readonly process: ChildProcess;
  /** Everything it printed, a line each: the API's, the sidecar's and the supervisor's. */
  readonly output: string[];
  /** Resolves with its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) to the supervisor; SIGKILLs the group after `graceMs` (default 15 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** SIGKILLs the whole group at once. */
  kill(): void;
}

export interface SpawnedStack extends LaunchedStack {
  /** Resolves once the stack says it is ready; rejects (its group killed) when it exits or is late. */
  readonly ready: Promise<void>;
}

export declare function spawnStack(options: LaunchOptions): SpawnedStack;

export declare function launchStack(options: LaunchOptions): Promise<SpawnedStack>;
