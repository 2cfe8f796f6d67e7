import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Config } from "../config";
import { entryExists } from "../fs/exists";
import { redactSecrets, secretsOf } from "../redact";
import { appendActivity } from "../state/activity-log";
import { readStatus, updateStatus } from "../state/status";

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 120_000;

/** A repository URL as a person may see it: any user:password@ part hidden. */
export const showUrl = (url: string): string => url.replace(/\/\/[^/@]*@/, "//***@");

export class GitError extends Error {}

async function git(args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await run("git", args, {
      cwd,
      timeout: GIT_TIMEOUT_MS,
      // never wait for a password prompt nobody will answer
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false", LC_ALL: "C" },
    });
    return stdout.trim();
  } catch (error) {
    const e = error as { stderr?: string; message: string; code?: string };
    if (e.code === "ENOENT") throw new GitError("git is not installed on this machine");
    const detail = (e.stderr ?? e.message).trim().split("\n").filter(Boolean).at(-1) ?? e.message;
    // the configured credentials are hidden where the message is shown (UpdateChecker)
    throw new GitError(redactSecrets(showUrlsIn(detail), []));
  }
}

const showUrlsIn = (text: string): string => text.replace(/(\w+:\/\/)[^/@\s]*@/g, "$1***@");


/** A clone git can still work with: a work tree whose HEAD points at a commit. */
async function healthy(repo: string): Promise<boolean> {
  try {
    await git(["rev-parse", "--verify", "HEAD^{commit}"], repo);
    return (await git(["rev-parse", "--show-toplevel"], repo)) === path.resolve(repo);
  } catch {
    return false;
  }
}

/**
 * Brings `$STUDIO_DIR/.repo` up to date with CATALOG_REPO_URL: a first clone, else fetch and fast-forward.
 * A broken clone is cloned again; one that diverged from the remote is an error saying what to do.
 */
export async function refreshClone(config: Config, log: (line: string) => void): Promise<void> {
  const url = config.catalogRepoUrl;
  if (url === undefined) throw new GitError("CATALOG_REPO_URL is not set");
  const repo = config.repoDir;
  if ((await entryExists(repo)) && !(await healthy(repo))) {
    log(`the catalog clone in ${repo} is broken; cloning it again`);
    await rm(repo, { recursive: true, force: true });
  }
  if (!(await entryExists(repo))) {
    await git(["clone", "--quiet", url, repo]).catch((error: GitError) => {
      throw new GitError(`Could not clone ${showUrl(url)}: ${error.message}`);
    });
    return;
  }
  await git(["remote", "set-url", "origin", url], repo);
  await git(["fetch", "--quiet", "origin"], repo).catch((error: GitError) => {
    throw new GitError(`Could not reach ${showUrl(url)}: ${error.message}`);
  });
  const branch = await git(["rev-parse", "--abbrev-ref", "HEAD"], repo);
  await git(["merge", "--ff-only", "--quiet", `origin/${branch}`], repo).catch(() => {
    throw new GitError(
      `The catalog clone in ${repo} has diverged from ${showUrl(url)} (it has commits the remote lacks): remove ${repo} and check again`,
    );
  });
}

/** The sidecar's side: runs a check the API asked for, and records how it went. */
export class UpdateChecker {
  readonly #config: Config;
  readonly #log: (line: string) => void;
  #running: Promise<void> | undefined;

  constructor(config: Config, log: (line: string) => void) {
    this.#config = config;
    this.#log = log;
  }

  async tick(): Promise<void> {
    if (this.#running) return;
    const { updates } = await readStatus(this.#config);
    if (updates?.status !== "queued" && updates?.status !== "running") return;
    // "running" here means a sidecar died during the check: run it again
    const claimed = await updateStatus(this.#config, (status) => {
      if (status.updates?.status !== "queued" && status.updates?.status !== "running") return { result: false, changed: false };
      status.updates.status = "running";
      return { result: true, changed: true };
    });
    if (!claimed) return;
    this.#running = this.#check().finally(() => {
      this.#running = undefined;
    });
  }

  async #check(): Promise<void> {
    let error: string | undefined;
    try {
      await refreshClone(this.#config, this.#log);
    } catch (failure) {
      error = redactSecrets(failure instanceof GitError ? failure.message : String(failure), secretsOf(this.#config));
    }
    await updateStatus(this.#config, (status, now) => {
      if (!status.updates) return { result: undefined, changed: false };
      status.updates.status = error === undefined ? "done" : "error";
      status.updates.finished_at = now;
      if (error === undefined) delete status.updates.error;
      else status.updates.error = error;
      return { result: undefined, changed: true };
    });
    const message = error === undefined ? "Checked for catalog updates: the clone is up to date with the remote" : `ERROR -- check for updates: ${error}`;
    this.#log(message);
    await appendActivity(this.#config, { message, level: error === undefined ? "ok" : "error" });
  }

  async shutdown(): Promise<void> {
    await this.#running;
  }
}
