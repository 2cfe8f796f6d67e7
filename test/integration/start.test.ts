import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFile } from "../support/catalogs";
import { PROJECT_DIR, startStack, tempDirs, type StackDirs } from "../support/stack";

const shipped = async (name: string) => JSON.parse(await readFile(path.join(PROJECT_DIR, "catalogs", `${name}.json`), "utf8"));

const groupAlive = (pid: number): boolean => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** True once no process of the group is left, within `withinMs`. */
async function groupEnds(pid: number, withinMs = 5_000): Promise<boolean> {
  for (let waited = 0; waited < withinMs; waited += 100) {
    if (!groupAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** The key a start stored in `studioDir`; one stored as a start stores it, if none did. */
async function storedKey(studioDir: string): Promise<string> {
  const file = path.join(studioDir, "api-key");
  const stored = await readFile(file, "utf8").catch(() => undefined);
  if (stored !== undefined) return stored.trim();
  const key = randomBytes(24).toString("base64url");
  await mkdir(path.join(studioDir, "catalogs"), { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}

describe("npm start on a fresh machine", () => {
  let dirs: StackDirs;
  // one machine for the file: the first test finds it fresh; the later ones need nothing the first did
  beforeAll(async () => {
    dirs = await tempDirs("models-admin-start-");
  });
  afterAll(async () => {
    if (dirs) await rm(dirs.root, { recursive: true, force: true });
  });

  it("generates an API key once, seeds the catalogs, serves, and stops everything on Ctrl-C", async () => {
    // the README's command on a fresh clone: it bundles the functions itself, into a work folder of its own
    const first = await startStack(dirs, {}, { ownBuild: true });
    const keyFile = path.join(dirs.studioDir, "api-key");
    const key = (await readFile(keyFile, "utf8")).trim();
    const models = await fetch(`${first.baseUrl}/api/admin/models`, { headers: { "X-API-Key": key } });
    const listing = (await models.json()) as { stats: { total_count: number } };
    const apiPid = Number(/API \(serverless-offline\) pid (\d+)/.exec(first.output.join("\n"))?.[1]);
    const exitCode = await first.stop("SIGINT");

    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(first.output.filter((line) => line.includes(key))).toHaveLength(1);
    expect(models.status).toBe(200);
    expect(JSON.parse(await readFile(catalogFile(dirs.studioDir, "models"), "utf8"))).toEqual(await shipped("models"));
    expect(JSON.parse(await readFile(catalogFile(dirs.studioDir, "loras"), "utf8"))).toEqual(await shipped("loras"));
    expect(listing.stats.total_count).toBeGreaterThanOrEqual(20);
    expect(exitCode).toBe(0);
    expect(await groupEnds(first.process.pid!)).toBe(true);
    expect(apiPid).toBeGreaterThan(0);
    expect(await groupEnds(apiPid)).toBe(true);
  });

  it("reuses the stored key without printing it, and never overwrites an existing catalog", async () => {
    const key = await storedKey(dirs.studioDir);
    const mine = JSON.stringify({ version: 99, date: "mine", categories: [] });
    await writeFile(catalogFile(dirs.studioDir, "models"), mine);

    const second = await startStack(dirs);
    const ok = await fetch(`${second.baseUrl}/api/admin/models`, { headers: { "X-API-Key": key } });
    const body = (await ok.json()) as { version: number };
    await second.stop("SIGTERM");

    expect(ok.status).toBe(200);
    expect(body.version).toBe(99);
    expect(second.output.join("\n")).not.toContain(key);
    expect(second.output.join("\n")).toContain("Using the API key stored in");
    expect(await readFile(catalogFile(dirs.studioDir, "models"), "utf8")).toBe(mine);
  });

  it("leaves no API or sidecar running when npm start itself is killed", async () => {
    const stack = await startStack(dirs);
    const output = stack.output.join("\n");
    const apiPid = Number(/API \(serverless-offline\) pid (\d+)/.exec(output)?.[1]);
    const sidecarPid = Number(/sidecar pid (\d+)/.exec(output)?.[1]);

    process.kill(stack.process.pid!, "SIGKILL");

    expect(apiPid).toBeGreaterThan(0);
    expect(sidecarPid).toBeGreaterThan(0);
    // they notice within a second or two that their supervisor is gone, and stop as on SIGTERM
    expect(await groupEnds(apiPid, 15_000)).toBe(true);
    expect(await groupEnds(sidecarPid, 15_000)).toBe(true);
  });

  it("fails at once on a port in use and leaves no API or sidecar behind", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const started = Date.now();
    try {
      const run = spawnSync(process.execPath, ["scripts/run.mjs", "server"], {
        cwd: PROJECT_DIR,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, STUDIO_DIR: dirs.studioDir, COMFYUI_DIR: path.join(dirs.root, "ComfyUI"), PORT: String(port), HOST: "127.0.0.1" },
        encoding: "utf8",
        timeout: 30_000,
      });

      expect(run.status).toBe(1);
      expect(run.stderr).toContain("EADDRINUSE");
      // the children would have announced themselves; none was started
      expect(run.stdout).not.toMatch(/sidecar started/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("refuses to start with a malformed setting and names it", () => {
    const run = spawnSync(process.execPath, ["scripts/run.mjs", "server"], {
      cwd: PROJECT_DIR,
      env: { PATH: process.env.PATH, STUDIO_DIR: path.join(dirs.root, "bad"), PORT: "eighty", MAX_CONCURRENT_DOWNLOADS: "0" },
      encoding: "utf8",
      timeout: 20_000,
    });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain("PORT");
    expect(run.stderr).toContain("MAX_CONCURRENT_DOWNLOADS");
  });

  it.each([
    ["npm start", "server"],
    ["npm run daemon", "daemon"],
  ])("%s refuses a studio inside the models folder, naming both folders and why", async (_command, entry) => {
    const own = await tempDirs("models-admin-overlap-");
    const models = own.modelsDir;
    const run = spawnSync(process.execPath, ["scripts/run.mjs", entry], {
      cwd: PROJECT_DIR,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, STUDIO_DIR: path.join(models, "studio"), MODELS_DIR: models, PORT: "3999", HOST: "127.0.0.1" },
      encoding: "utf8",
      timeout: 20_000,
    });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `STUDIO_DIR (${models}/studio) is inside MODELS_DIR (${models}): the models scan would take the studio's state files and catalogs for models`,
    );
    // refused before anything was made or started
    expect(existsSync(path.join(models, "studio"))).toBe(false);
    expect(run.stdout).not.toMatch(/sidecar started|ready on/);
    await rm(own.root, { recursive: true, force: true });
  });
});
