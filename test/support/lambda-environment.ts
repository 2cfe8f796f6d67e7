/**
 * One Lambda execution environment of a packaged function, as lambda-cloud.ts starts it: the function's zip
 * unpacked into its own task root, and a fresh `node` running lambda-runner.cjs there with exactly the
 * environment it is given; warm between invocations, one at a time, thrown away when one runs out of time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { unzip } from "./zip";

const RUNNER = path.join(__dirname, "lambda-runner.cjs");

/** What the runner says over its IPC channel (lambda-runner.cjs describes the protocol). */
export type RunnerMessage =
  | { type: "ready" }
  | { type: "init-error" | "error"; id?: number; errorType: string; errorMessage: string }
  | { type: "result"; id: number; payload: string }
  | { type: "head"; id: number; contentType: string }
  | { type: "chunk"; id: number; data: Uint8Array }
  | { type: "end"; id: number };

/**
 * What the Lambda runtime adds to a function's own variables: its identity, region, the execution role's
 * credentials (dummies here), the task root and handler, and the runtime's locale, time zone and PATH.
 */
export function runtimeEnv(props: Record<string, unknown>, functionName: string, taskRoot: string): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize ?? 128),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_EXECUTION_ENV: `AWS_Lambda_${String(props.Runtime)}`,
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "ASIAEXAMPLEEXAMPLE00",
    AWS_SECRET_ACCESS_KEY: "example-secret-access-key-0000000000000",
    AWS_SESSION_TOKEN: "example-session-token",
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: "/var/runtime",
    _HANDLER: String(props.Handler),
    TZ: ":UTC",
    LANG: "en_US.UTF-8",
    PATH: "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
  };
}

export class LambdaEnvironment {
  readonly #child: ChildProcess;
  readonly #listeners = new Map<number, (message: RunnerMessage) => void>();
  #nextId = 1;
  /** Resolves once the handler is loaded (the cold start); rejects with the runtime's init error. */
  readonly ready: Promise<void>;

  /** `env` must hold LAMBDA_TASK_ROOT and _HANDLER; every line the function prints goes to `log`. */
  static async start(zip: string, env: Record<string, string>, log: (line: string) => void): Promise<LambdaEnvironment> {
    await unzip(zip, env.LAMBDA_TASK_ROOT!);
    return new LambdaEnvironment(env, log);
  }

  private constructor(env: Record<string, string>, log: (line: string) => void) {
    // the function's memory bounds the heap, about as the runtime's bootstrap sets it
    const heap = `--max-old-space-size=${Math.floor(Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? 128) * 0.9)}`;
    this.#child = spawn(process.execPath, [heap, RUNNER], { cwd: env.LAMBDA_TASK_ROOT, env, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" });
    for (const output of [this.#child.stdout!, this.#child.stderr!]) createInterface({ input: output }).on("line", log);
    this.ready = new Promise<void>((resolve, reject) => {
      this.#child.on("message", (message: RunnerMessage) => {
        if (message.type === "ready") resolve();
        else if (message.type === "init-error") reject(new Error(`the function failed to start: ${message.errorType}: ${message.errorMessage}`));
        else if ("id" in message && message.id !== undefined) this.#listeners.get(message.id)?.(message);
      });
      this.#child.once("exit", (code, signal) => {
        reject(new Error(`the runtime exited (${signal ?? code})`));
        for (const listener of this.#listeners.values()) listener({ type: "error", errorType: "Runtime.ExitError", errorMessage: `exited (${signal ?? code})` });
      });
    });
    // a failed start is reported to whoever invokes; nobody may be waiting yet
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** One invocation; `onMessage` sees what the runner says about it and returns true once it is over. */
  async invoke(event: unknown, timeoutMs: number, onMessage: (message: RunnerMessage) => boolean): Promise<void> {
    await this.ready;
    const id = this.#nextId++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // out of time: API Gateway answers 504, and Lambda throws the environment away
        this.#listeners.get(id)?.({ type: "error", errorType: "Sandbox.Timedout", errorMessage: `${timeoutMs} ms` });
        this.#child.kill("SIGKILL");
      }, timeoutMs);
      this.#listeners.set(id, (message) => {
        if (!onMessage(message)) return;
        clearTimeout(timer);
        this.#listeners.delete(id);
        resolve();
      });
      this.#child.send({ type: "invoke", id, event, requestId: `req-${id}`, deadline: Date.now() + timeoutMs });
    });
  }

  stop(): void {
    if (this.alive) this.#child.kill("SIGKILL");
  }
}
