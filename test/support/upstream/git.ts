// The catalog's git remote, standing in for the GitHub repository behind CATALOG_REPO_URL: a bare
// repository on the local disk (file://) and a work clone that publishes new catalog versions to it.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** A catalog's git remote on the local disk (file://), and a work clone to push new versions from. */
export interface CatalogRemote {
  readonly bare: string;
  readonly work: string;
  readonly url: string;
}

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", ["-c", "user.name=Catalog Bot", "-c", "user.email=bot@example.invalid", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  }).trim();

/** Commits `models.json` (any text, valid or not) to the work clone and pushes it. */
export function publish(remote: CatalogRemote, models: unknown, message = "catalog update"): void {
  const file = path.join(remote.work, "catalogs", "models.json");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof models === "string" ? models : `${JSON.stringify(models, null, 2)}\n`);
  git(remote.work, "add", "-A");
  git(remote.work, "commit", "--quiet", "-m", message);
  git(remote.work, "push", "--quiet", "origin", "HEAD:main");
}

export function createCatalogRemote(root: string): CatalogRemote {
  const bare = path.join(root, "catalog.git");
  const work = path.join(root, "catalog-work");
  git(root, "init", "--quiet", "--bare", "-b", "main", bare);
  git(root, "clone", "--quiet", bare, work);
  const remote = { bare, work, url: `file://${bare}` };
  publish(remote, { version: 1, date: "2026-01-01 00:00", categories: [] }, "first catalog");
  return remote;
}
