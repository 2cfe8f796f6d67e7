/**
 * The SHA256 of a download, computed while it downloads. A worker thread reads the part file back (from the
 * page cache: the bytes were just written) as far as it is written from byte 0 on, so the hash ends moments
 * after the last byte, and the event loop that moves the data never spends a cycle on it. It hashes what is
 * in the file, not what came over the network: a write that went wrong is caught too.
 *
 * After a restart of the sidecar it starts again from byte 0 and catches up while the rest downloads: a
 * running SHA256 cannot be saved with the control file (Node's Hash has no way to export its state).
 *
 * One worker serves every download of the process (a hash is one core's work); it starts with the first
 * download and ends with the last, so an idle sidecar holds no thread.
 */
import { Worker } from "node:worker_threads";
import { CancelledError } from "./errors";

/** The worker's code: plain JavaScript, self-contained, run with `eval` (the bundle has no separate file for it). */
const WORKER = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const STEP = 4 * 1024 * 1024;
const buffer = Buffer.allocUnsafe(STEP);
const jobs = new Map();
let busy = false;
function work() {
  busy = false;
  for (const [id, job] of jobs) {
    if (job.at >= job.to) continue;
    try {
      const length = Math.min(STEP, job.to - job.at);
      const read = fs.readSync(job.fd, buffer, 0, length, job.at);
      if (read === 0) throw new Error("the part file is shorter than what was written");
      job.hash.update(buffer.subarray(0, read));
      job.at += read;
    } catch (error) {
      parentPort.postMessage({ id, error: String(error && error.message || error) });
      close(id);
      continue;
    }
    if (job.at >= job.to && job.digest) answer(id, job);
  }
  for (const job of jobs.values()) if (job.at < job.to) return schedule();
}
function schedule() {
  if (!busy) { busy = true; setImmediate(work); }
}
function answer(id, job) {
  parentPort.postMessage({ id, digest: job.hash.digest("hex"), bytes: job.at });
  close(id);
}
function close(id) {
  const job = jobs.get(id);
  if (job) { jobs.delete(id); try { fs.closeSync(job.fd); } catch {} }
}
parentPort.on("message", (m) => {
  if (m.type === "open") {
    try { jobs.set(m.id, { fd: fs.openSync(m.file, "r"), hash: createHash("sha256"), at: 0, to: 0, digest: false }); }
    catch (error) { parentPort.postMessage({ id: m.id, error: String(error.message) }); }
    return;
  }
  const job = jobs.get(m.id);
  if (!job) return;
  if (m.type === "close") return close(m.id);
  job.to = Math.max(job.to, m.to);
  if (m.type === "digest") { job.digest = true; if (job.at >= job.to) return answer(m.id, job); }
  schedule();
});
`;

interface Reply {
  readonly id: number;
  readonly digest?: string;
  readonly bytes?: number;
  readonly error?: string;
}

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve: (digest: string) => void; reject: (error: Error) => void }>();
/** Errors the worker sent before anyone waited for a digest. */
const failures = new Map<number, string>();
let users = 0;

const readBackError = (reason: string) => new Error(`Could not read the download back to check its SHA256: ${reason}`);

function onReply(reply: Reply): void {
  const wait = waiting.get(reply.id);
  if (!wait) {
    if (reply.error !== undefined) failures.set(reply.id, reply.error);
    return;
  }
  waiting.delete(reply.id);
  if (reply.error !== undefined) wait.reject(readBackError(reply.error));
  else wait.resolve(reply.digest!);
}

function theWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(WORKER, { eval: true });
  started.on("message", onReply);
  // a worker that dies (not one ended below) would leave its downloads waiting forever
  const died = (reason: string) => {
    if (worker !== started) return;
    worker = undefined;
    for (const wait of waiting.values()) wait.reject(readBackError(reason));
    waiting.clear();
  };
  started.on("error", (error) => died(error.message));
  started.on("exit", () => died("the SHA256 worker stopped"));
  worker = started;
  return started;
}

/** The SHA256 of one part file, following its written prefix. */
export class PrefixHasher {
  readonly #id = nextId++;
  readonly #worker: Worker;
  #told = 0;
  #closed = false;

  constructor(file: string) {
    users += 1;
    this.#worker = theWorker();
    this.#worker.postMessage({ type: "open", id: this.#id, file });
  }

  /** The file is written from byte 0 up to `prefix`: the worker may hash that far. */
  advance(prefix: number): void {
    if (this.#closed || prefix <= this.#told) return;
    this.#told = prefix;
    this.#worker.postMessage({ type: "advance", id: this.#id, to: prefix });
  }

  /** The SHA256 (hex) of the file's first `size` bytes, once they are written; ends the hasher. */
  digest(size: number, signal: AbortSignal): Promise<string> {
    const early = failures.get(this.#id) ?? (worker === this.#worker ? undefined : "the SHA256 worker stopped");
    const result = new Promise<string>((resolve, reject) => {
      if (early !== undefined) return reject(readBackError(early));
      // an abort event never comes for a signal aborted already: without this, the hash would run to its end
      if (signal.aborted) return reject(new CancelledError());
      waiting.set(this.#id, { resolve, reject });
      signal.addEventListener("abort", () => reject(new CancelledError()), { once: true });
      this.#worker.postMessage({ type: "digest", id: this.#id, to: size });
    });
    return result.finally(() => this.close());
  }

  /** Lets go of the file; the last hasher to close ends the worker. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    waiting.delete(this.#id);
    failures.delete(this.#id);
    if (worker === this.#worker) this.#worker.postMessage({ type: "close", id: this.#id });
    letGo();
  }
}

/** One user fewer; the last one ends the worker. */
function letGo(): void {
  users -= 1;
  if (users === 0 && worker) {
    const ending = worker;
    worker = undefined;
    void ending.terminate();
  }
}

/**
 * Keeps the worker running until the returned function is called: a run over many small files (lib/volume's
 * identify and verify) would otherwise start and end a thread for each, which costs more than the hashing.
 */
export function holdHashWorker(): () => void {
  users += 1;
  theWorker();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    letGo();
  };
}
