import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface SupervisedOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** A line of the child's output that says it is ready to serve. */
  readonly readyLine?: RegExp;
  /** Lines printed before ready are held back (they describe internal ports) unless start-up fails. */
  readonly quietUntilReady?: boolean;
  /** A script the child's Node preloads (lib/server/parent-watch.cjs: it stops when this process is gone). */
  readonly preload?: string;
}

const STOP_GRACE_MS = 5_000;

/**
 * A child process kept running: restarted after an unexpected exit (1 s, doubling to 10 s), and stopped
 * with its whole process group, so Ctrl-C leaves nothing behind.
 */
export class Supervised {
  readonly #options: SupervisedOptions;
  #child: ChildProcess | undefined;
  #stopping = false;
  #backoffMs = 1_000;
  #restartTimer: NodeJS.Timeout | undefined;
  #restarts = 0;

  constructor(options: SupervisedOptions) {
    this.#options = options;
  }

  /** Starts the child and resolves once it printed its ready line (or at once without one). */
  start(timeoutMs = 60_000): Promise<void> {
    const { name, command, args, cwd, readyLine, quietUntilReady, preload } = this.#options;
    const env = preload ? { ...this.#options.env, NODE_OPTIONS: withPreload(this.#options.env.NODE_OPTIONS, preload) } : this.#options.env;
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const held: string[] = [];
    let ready = readyLine === undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        for (const line of held) console.error(line);
        reject(error);
      };
      const onLine = (line: string, stream: NodeJS.WriteStream) => {
        if (!ready && readyLine?.test(line)) {
          ready = true;
          held.length = 0;
          if (!quietUntilReady) stream.write(`${line}\n`);
          clearTimeout(timer);
          this.#backoffMs = 1_000;
          // the new pid, for whoever watches or signals it (the first one main.ts announces)
          if (this.#restarts > 0) console.error(`${name} is running again (pid ${child.pid})`);
          resolve();
          return;
        }
        if (!ready && quietUntilReady) held.push(line);
        else stream.write(`${line}\n`);
      };
      createInterface({ input: child.stdout! }).on("line", (line) => onLine(line, process.stdout));
      createInterface({ input: child.stderr! }).on("line", (line) => onLine(line, process.stderr));
      if (ready) resolve();
      child.once("error", fail);
      child.once("exit", (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        if (!ready) {
          fail(new Error(`${name} exited during start-up (${signal ?? `code ${code}`})`));
          return;
        }
        if (this.#stopping) return;
        console.error(`${name} stopped unexpectedly (${signal ?? `code ${code}`}); restarting in ${this.#backoffMs / 1000} s`);
        this.#restartTimer = setTimeout(() => {
          this.#restarts += 1;
          this.start(timeoutMs).catch((error: Error) => console.error(`${name}: ${error.message}`));
        }, this.#backoffMs);
        this.#backoffMs = Math.min(this.#backoffMs * 2, 10_000);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => killGroup(child.pid!, "SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    // serverless-offline's workers may outlive their parent for a moment
    killGroup(child.pid, "SIGKILL");
  }
}

/** NODE_OPTIONS with `--require <file>` added (quoted: the path may hold spaces). */
export function withPreload(nodeOptions: string | undefined, file: string): string {
  return [nodeOptions, `--require ${JSON.stringify(file)}`].filter(Boolean).join(" ");
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
