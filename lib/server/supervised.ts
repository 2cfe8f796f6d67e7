/**
 * A child process kept running: restarted after an unexpected exit (1 s, doubling to 10 s), and stopped
 * with its whole process group, so Ctrl-C leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface SupervisedOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The line of the child's output that says it is ready to serve. */
  readonly readyLine: RegExp;
  /** Lines printed before ready are held back (serverless-offline's banner and routes) unless start-up fails. */
  readonly quietUntilReady?: boolean;
  /** A script the child's Node preloads (parent-watch.cjs: it stops when this process is gone). */
  readonly preload: string;
  /** Runs before each start (the API's: it removes the sockets a killed one left behind). */
  readonly prepare?: () => Promise<void>;
}

const STOP_GRACE_MS = 5_000;

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

  /** Starts the child and resolves once it printed its ready line. */
  async start(timeoutMs = 60_000): Promise<void> {
    const { name, command, args, cwd, readyLine, quietUntilReady, preload, env, prepare } = this.#options;
    await prepare?.();
    // quoted: the path may hold spaces
    const nodeOptions = [env.NODE_OPTIONS, `--require ${JSON.stringify(preload)}`].filter(Boolean).join(" ");
    const child = spawn(command, args, { cwd, env: { ...env, NODE_OPTIONS: nodeOptions }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const held: string[] = [];
    let ready = false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        for (const line of held) console.error(line);
        reject(error);
      };
      const onLine = (line: string, stream: NodeJS.WriteStream) => {
        if (!ready && readyLine.test(line)) {
          ready = true;
          held.length = 0;
          if (!quietUntilReady) stream.write(`${line}\n`);
          clearTimeout(timer);
          this.#backoffMs = 1_000;
          // the new pid, for whoever watches or signals it (the first one main.ts announces)
          if (this.#restarts > 0) console.error(`${name} is running again (pid ${child.pid})`);
          return resolve();
        }
        if (!ready && quietUntilReady) held.push(line);
        else stream.write(`${line}\n`);
      };
      createInterface({ input: child.stdout! }).on("line", (line) => onLine(line, process.stdout));
      createInterface({ input: child.stderr! }).on("line", (line) => onLine(line, process.stderr));
      child.once("error", fail);
      child.once("exit", (code, signal) => this.#exited(child, ready, `${signal ?? `code ${code}`}`, fail, timeoutMs));
    });
  }

  /** After an exit: a failed start-up, the end of a stop, or a restart after a back-off. */
  #exited(child: ChildProcess, ready: boolean, how: string, fail: (error: Error) => void, timeoutMs: number): void {
    const { name } = this.#options;
    if (this.#child === child) this.#child = undefined;
    if (!ready) return fail(new Error(`${name} exited during start-up (${how})`));
    if (this.#stopping) return;
    console.error(`${name} stopped unexpectedly (${how}); restarting in ${this.#backoffMs / 1000} s`);
    this.#restartTimer = setTimeout(() => {
      this.#restarts += 1;
      this.start(timeoutMs).catch((error: Error) => console.error(`${name}: ${error.message}`));
    }, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, 10_000);
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
    // whatever it started and left behind
    killGroup(child.pid, "SIGKILL");
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
