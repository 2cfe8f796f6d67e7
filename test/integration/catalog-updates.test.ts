import { readFileSync } from "node:fs";
import { readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { catalog, catalogFile, civitaiModel, hfModel, readCatalog, writeCatalog, type TestCatalog } from "../support/catalogs";
import { call } from "../support/client";
import { exists, stackInfo, waitUntil } from "../support/downloads";
import { git, publish } from "../support/upstream/git";

interface CheckView {
  status: "idle" | "running" | "done" | "error";
  remote_version: number | null;
  local_version: number;
  error?: string;
}

const { studioDir, catalogRemote: remote } = stackInfo();
const repo = path.join(studioDir, ".repo");

/** Asks for a check and waits for its outcome. */
async function check(): Promise<CheckView> {
  const { status, json } = await call<{ status: string }>("POST", "/api/admin/models/check-updates");
  expect(status).toBe(200);
  expect(json).toEqual({ status: "queued" });
  return waitUntil(async () => {
    const view = (await call<CheckView>("GET", "/api/admin/models/check-updates")).json;
    return view.status === "done" || view.status === "error" ? view : undefined;
  }, "the check to end", 20_000, 100);
}

const sync = () => call<Record<string, unknown>>("POST", "/api/admin/models/sync");

// Each test puts the remote, the clone and the local catalog where it needs them, whatever ran before it;
// in the file's order these find them there already and cost nothing.

/** The remote's catalog is `doc`: published, unless it is already. */
function remoteHolds(doc: TestCatalog): void {
  const text = readFileSync(path.join(remote.work, "catalogs", "models.json"), "utf8");
  if (text !== `${JSON.stringify(doc, null, 2)}\n`) publish(remote, doc, `version ${doc.version}`);
}

/** The service's clone is there, at the remote's last commit: a check makes it so when it is not. */
async function cloned(): Promise<void> {
  const at = (dir: string) => {
    try {
      return git(dir, "rev-parse", "HEAD");
    } catch {
      return undefined;
    }
  };
  if ((await exists(path.join(repo, ".git"))) && at(repo) === at(remote.work)) return;
  expect((await check()).status).toBe("done");
}

/** The service's clone is there, in whatever state the tests before left it. */
async function aClone(): Promise<void> {
  if (!(await exists(path.join(repo, ".git")))) expect((await check()).status).toBe("done");
}

/** A check while the remote cannot be reached, and the remote back. */
async function unreachableCheck(): Promise<CheckView> {
  await rename(remote.bare, `${remote.bare}.away`);
  try {
    return await check();
  } finally {
    await rename(`${remote.bare}.away`, remote.bare);
  }
}

// local: a fetched sha256 and base model the remote does not carry, an import, an entry the remote dropped
const shared = hfModel("sd_xl_base_1.0.safetensors", "checkpoints", { sha256: undefined, base_model: undefined });
const localShared = { ...shared, sha256: "a".repeat(64), base_model: "SDXL 1.0", civitai_tags: ["base model"] };
const imported = { ...civitaiModel("my_lora.safetensors", "loras", 5, 6), tags: ["style", "imported"] };
const dropped = hfModel("old_vae.safetensors", "vae");
const local: TestCatalog = catalog(
  [
    { id: "sdxl", name: "SDXL", models: [localShared, dropped] },
    { id: "mine", name: "Mine", models: [imported] },
  ],
  20,
  "2026-03-01 10:00",
);
const remoteV21 = catalog(
  [
    { id: "sdxl", name: "SDXL Checkpoints", models: [shared, hfModel("sd_xl_refiner_1.0.safetensors", "checkpoints")] },
    { id: "flux", name: "FLUX", models: [hfModel("flux1-dev.safetensors", "diffusion_models/flux")] },
  ],
  21,
  "2026-03-23 15:00",
);

describe("catalog updates from git", () => {
  beforeAll(async () => {
    await rm(repo, { recursive: true, force: true });
    await writeCatalog(studioDir, "models", local);
  });

  it("refuses to sync before any check, with what to do", async () => {
    await rm(repo, { recursive: true, force: true });
    const { status, json } = await sync();

    expect(status).toBe(409);
    expect(json).toEqual({ detail: "No catalog clone yet: check for updates first (POST /api/admin/models/check-updates)" });
  });

  it("is idle before the first check", async () => {
    const { json } = await call<CheckView>("GET", "/api/admin/models/check-updates");

    expect(json).toEqual({ status: "idle", remote_version: null, local_version: 20 });
  });

  it("clones the remote on the first check", async () => {
    await rm(repo, { recursive: true, force: true });
    await writeCatalog(studioDir, "models", local);
    remoteHolds(remoteV21);

    const view = await check();

    expect(view).toEqual({ status: "done", remote_version: 21, local_version: 20 });
    expect(await exists(path.join(repo, ".git"))).toBe(true);
  });

  it("syncs a newer catalog, merged: remote entries win, local metadata and imports stay, a backup is kept", async () => {
    await writeCatalog(studioDir, "models", local);
    remoteHolds(remoteV21);
    await cloned();

    const { status, json } = await sync();
    const after = await readCatalog(studioDir, "models");
    const backup = JSON.parse(await readFile(`${catalogFile(studioDir, "models")}.bak`, "utf8"));

    expect(status).toBe(200);
    expect(json).toEqual({ status: "updated", old_version: 20, new_version: 21, new_date: "2026-03-23 15:00" });
    expect(backup).toEqual(local);
    expect(after.version).toBe(21);
    expect(after.categories.map((c) => c.id)).toEqual(["sdxl", "flux", "mine"]);
    expect(after.categories[0]!.name).toBe("SDXL Checkpoints");
    expect(after.categories[0]!.models).toEqual([
      { ...shared, sha256: localShared.sha256, base_model: "SDXL 1.0", civitai_tags: ["base model"] },
      remoteV21.categories[0]!.models[1],
    ]);
    expect(after.categories[2]!.models).toEqual([imported]);
    expect(after.categories.flatMap((c) => c.models.map((m) => m.file))).not.toContain(dropped.file);
  });

  it("answers up_to_date when the remote is not newer", async () => {
    await writeCatalog(studioDir, "models", remoteV21);
    remoteHolds(remoteV21);
    await cloned();

    const { status, json } = await sync();

    expect(status).toBe(200);
    expect(json).toEqual({ status: "up_to_date", version: 21 });
  });

  it("fetches a new commit on the next check", async () => {
    await writeCatalog(studioDir, "models", remoteV21);
    remoteHolds(remoteV21);
    await cloned();
    publish(remote, { ...remoteV21, version: 22, date: "2026-04-01 09:00" }, "version 22");

    const view = await check();
    const synced = await sync();

    expect(view).toEqual({ status: "done", remote_version: 22, local_version: 21 });
    expect(synced.json).toEqual({ status: "updated", old_version: 21, new_version: 22, new_date: "2026-04-01 09:00" });
  });

  it.each([
    ["not JSON", "{ version: 23,", /^Invalid remote catalog: Invalid JSON: /],
    ["an unsafe path", JSON.stringify(catalog([{ id: "x", name: "X", models: [hfModel("../../evil.safetensors", "checkpoints")] }], 23)), null],
    ["not a catalog", JSON.stringify({ version: 23, categories: "none" }), null],
  ])("refuses a remote catalog that is %s with 422 and keeps the local one", async (_, text, message) => {
    publish(remote, text, "broken");
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");

    await check();
    const { status, json } = await sync();

    expect(status).toBe(422);
    if (message) expect(json.detail).toMatch(message);
    else expect(Array.isArray(json.detail)).toBe(true);
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  });

  it("never reads what a link in the clone points to", async () => {
    await aClone();
    const secret = path.join(studioDir, "api-key-like-secret");
    await writeFile(secret, "s3cr3t-value-123\n");
    const file = path.join(repo, "catalogs", "models.json");
    await rm(file);
    await symlink(secret, file);
    try {
      const { status, json } = await sync();

      expect(status).toBe(422);
      expect(JSON.stringify(json)).not.toContain("s3cr3t");
      expect(json.detail).toMatch(/^Invalid remote catalog: catalogs\/models.json (is a link|leads outside the clone)$/);
    } finally {
      await rm(file);
      git(repo, "checkout", "--", "catalogs/models.json");
    }
  });

  it("says what to do when the clone has diverged from the remote", async () => {
    await aClone();
    git(repo, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "--quiet", "--allow-empty", "-m", "local change");
    publish(remote, { ...remoteV21, version: 24 }, "version 24");

    const view = await check();

    expect(view.status).toBe("error");
    expect(view.error).toMatch(/has diverged from file:\/\/.*: remove .*\.repo and check again/);
  });

  it("clones again when the clone is broken", async () => {
    await writeCatalog(studioDir, "models", { ...remoteV21, version: 22, date: "2026-04-01 09:00" });
    remoteHolds({ ...remoteV21, version: 24 });
    await aClone();
    await writeFile(path.join(repo, ".git", "HEAD"), "garbage");

    const view = await check();

    expect(view).toEqual({ status: "done", remote_version: 24, local_version: 22 });
  });

  it("says the remote cannot be reached, and recovers when it is back", async () => {
    const view = await unreachableCheck();

    expect(view.status).toBe("error");
    expect(view.error).toMatch(/^Could not reach file:\/\//);
    expect((await check()).status).toBe("done");
  });

  it("logs each check in the activity log", async () => {
    const log = async () => (await call<{ message: string; level: string }[]>("GET", "/api/admin/activity-log")).json;
    const checked = (e: { message: string; level: string }) => e.level === "ok" && e.message.startsWith("Checked for catalog updates");
    const unreachable = (e: { message: string; level: string }) => e.level === "error" && e.message.startsWith("ERROR -- check for updates: Could not reach");
    // the checks of the tests before, or of this one when they did not run
    if (!(await log()).some(checked)) await check();
    if (!(await log()).some(unreachable)) await unreachableCheck();

    const json = await log();

    expect(json.some(checked)).toBe(true);
    expect(json.some(unreachable)).toBe(true);
  });

  it.each([
    ["POST", "/api/admin/models/check-updates"],
    ["GET", "/api/admin/models/check-updates"],
    ["POST", "/api/admin/models/sync"],
  ])("refuses %s %s without the API key", async (method, route) => {
    const { status, json } = await call(method, route, { key: null });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });
});
