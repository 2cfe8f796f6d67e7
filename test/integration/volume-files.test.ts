/**
 * The volume's own files through the running stack: the unlisted ones, identify by SHA256 against the CivitAI
 * stand-in (more than one batch, the single look-up where batches are refused, cancel), adopt, and verify
 * catching a flipped byte in the listing. The files are small (a few KB); only the one cancelled is large,
 * and sparse.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { catalog, emptyModelsDir, readCatalog, writeCatalog, type TestModel } from "../support/catalogs";
import { call } from "../support/client";
import { upstream, waitUntil } from "../support/downloads";
import { CIVITAI_API_KEY } from "../support/secrets";
import { fileBytes } from "../support/upstream";

const { studioDir, modelsDir } = inject("stack");
// content of this run only: nothing a run before left in the hash cache matches it
const SEED = Date.now() % 1_000_000;
const FIRST_VERSION = 8_800_000;
const CIVITAI_FILES = 120;
const FOLDER = "loras/volume-test";
const BY_HASH = "/api/v1/model-versions/by-hash";

interface Progress {
  status: string;
  hashed: number;
  total: number;
  matched?: number;
  verified?: number;
  damaged?: number;
  cancelled?: boolean;
  error?: string;
}
interface Unlisted {
  path: string;
  dest: string;
  file: string;
  bytes: number;
  sha256: string | null;
  match: Record<string, unknown> | null;
}
interface Listed extends TestModel {
  status: string;
  verified?: boolean;
  error?: string;
}

const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function put(rel: string, bytes: Buffer): Promise<void> {
  const file = path.join(modelsDir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

/** Asks for a run and waits for its end. */
async function run(name: "identify" | "verify", json?: unknown): Promise<Progress> {
  const asked = await call<Progress>("POST", `/api/admin/models/${name}`, json === undefined ? {} : { json });
  expect(asked.status).toBe(200);
  return waitUntil(async () => {
    const { json: now } = await call<Progress>("GET", `/api/admin/models/${name}`);
    return now.status === "done" || now.status === "error" ? now : undefined;
  }, `the ${name} to end`, 20_000, 100);
}

const unlisted = async () => (await call<{ files: Unlisted[] }>("GET", "/api/admin/models/unlisted")).json.files;
const byHashCalls = async () => (await upstream().log()).filter((entry) => entry.path.startsWith(BY_HASH));
const listed = async () => (await call<{ categories: { id: string; models: Listed[] }[] }>("GET", "/api/admin/models")).json.categories.flatMap((c) => c.models);

const intact = fileBytes("volume/intact", SEED, 0, 5000);
const rotten = fileBytes("volume/rotten", SEED, 0, 5000);
const catalogModel = (file: string, bytes: Buffer): TestModel => ({ name: file, file, dest: "checkpoints", sha256: sha256Of(bytes).toUpperCase(), tags: ["test"] });

beforeAll(async () => {
  await emptyModelsDir(modelsDir);
  await writeCatalog(studioDir, "models", catalog([{ id: "ckpt", name: "Checkpoints", models: [catalogModel("intact.safetensors", intact), catalogModel("rotten.safetensors", rotten)] }]));
  await writeCatalog(studioDir, "loras", catalog([]));
  await put("checkpoints/intact.safetensors", intact);
  await put("checkpoints/rotten.safetensors", rotten);
  for (let i = 0; i < CIVITAI_FILES; i++) {
    const id = `civitai/${FIRST_VERSION + i}`;
    await upstream().register({ id, size: 3000, seed: SEED });
    await put(`${FOLDER}/v${FIRST_VERSION + i}.safetensors`, fileBytes(id, SEED, 0, 3000));
  }
  await put(`${FOLDER}/homemade.safetensors`, fileBytes("volume/homemade", SEED, 0, 2000));
  await put(`${FOLDER}/partial.safetensors.part`, Buffer.alloc(10));
  await put(`${FOLDER}/notes.txt`, Buffer.alloc(10));
}, 60_000);

describe("the volume's own files", () => {
  it("lists the model files no catalog points at, sorted by path, without a hash before an identify", async () => {
    const files = await unlisted();

    expect(files).toHaveLength(CIVITAI_FILES + 1);
    expect(files.map((file) => file.path)).toEqual(files.map((file) => file.path).sort());
    expect(files[0]).toEqual({ path: `${FOLDER}/homemade.safetensors`, dest: FOLDER, file: "homemade.safetensors", bytes: 2000, sha256: null, match: null });
    expect(files.some((file) => file.file === "intact.safetensors" || file.path.endsWith(".part") || file.path.endsWith(".txt"))).toBe(false);
  });

  it("identifies 120 files by SHA256, 100 a call to CivitAI, and reads and asks nothing again the second time", async () => {
    await upstream().clearLog();

    expect(await run("identify")).toEqual({ status: "done", hashed: CIVITAI_FILES + 1, total: CIVITAI_FILES + 1, matched: CIVITAI_FILES });

    const calls = await byHashCalls();
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([`POST ${BY_HASH} 200`, `POST ${BY_HASH} 200`]);
    // the key went to CivitAI (and, as every answer of the stack is checked, nowhere else)
    expect(calls.every((c) => c.authorization === `Bearer ${CIVITAI_API_KEY}`)).toBe(true);
    const files = await unlisted();
    const first = files.find((file) => file.file === `v${FIRST_VERSION}.safetensors`)!;
    expect(first.sha256).toBe(sha256Of(fileBytes(`civitai/${FIRST_VERSION}`, SEED, 0, 3000)));
    expect(first.match).toEqual({
      civitai_version_id: FIRST_VERSION,
      civitai_model_id: expect.any(Number),
      name: `Test model ${FIRST_VERSION} v1.0`,
      type: "Checkpoint",
      base_model: "SDXL 1.0",
    });
    expect(files.find((file) => file.file === "homemade.safetensors")).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), match: null });
    const log = (await call<{ message: string }[]>("GET", "/api/admin/activity-log")).json.map((entry) => entry.message);
    expect(log).toContain(`Identify: ${CIVITAI_FILES + 1} files to identify, ${CIVITAI_FILES + 1} to hash (0 hashed before)`);
    expect(log).toContain(`Identify: done: CivitAI knows ${CIVITAI_FILES} of ${CIVITAI_FILES + 1} files`);

    const hashes = () => readFile(path.join(studioDir, "state", "hashes.json"), "utf8").then((text) => JSON.parse(text) as { files: object });
    const before = (await hashes()).files;
    await upstream().clearLog();

    expect(await run("identify")).toEqual({ status: "done", hashed: CIVITAI_FILES + 1, total: CIVITAI_FILES + 1, matched: CIVITAI_FILES });
    expect(await byHashCalls()).toEqual([]);
    expect((await hashes()).files).toEqual(before);
  });

  it("asks about each SHA256 on its own where CivitAI refuses the batch look-up", async () => {
    for (const n of [1, 2]) {
      const id = `civitai/${FIRST_VERSION + 1000 + n}`;
      await upstream().register({ id, size: 1000, seed: SEED });
      await put(`${FOLDER}/single-${n}.safetensors`, fileBytes(id, SEED, 0, 1000));
    }
    await upstream().can({ method: "POST", path: BY_HASH, status: 405, body: { error: "Method Not Allowed" }, times: 1 });
    await upstream().clearLog();

    expect(await run("identify")).toMatchObject({ status: "done", matched: CIVITAI_FILES + 2 });
    expect((await byHashCalls()).map((c) => `${c.method} ${c.status}`)).toEqual(["POST 405", "GET 200", "GET 200"]);
    expect((await unlisted()).find((file) => file.file === "single-2.safetensors")?.match).toMatchObject({ civitai_version_id: FIRST_VERSION + 1002 });
  });

  it("stops hashing within a second when cancelled", async () => {
    // sparse: seconds of hashing, no room on the disk
    const big = path.join(modelsDir, "checkpoints", "volume-big.safetensors");
    await writeFile(big, "");
    await truncate(big, 16 * 1024 ** 3);
    try {
      await call("POST", "/api/admin/models/identify");
      await waitUntil(async () => {
        const { json } = await call<Progress>("GET", "/api/admin/models/identify");
        return json.status === "running" && json.total > json.hashed ? json : undefined;
      }, "the identify to read the large file", 10_000, 20);

      const asked = Date.now();
      const { status, json } = await call<Progress>("DELETE", "/api/admin/models/identify");

      expect(status).toBe(200);
      expect(json).toMatchObject({ status: "done", cancelled: true });
      expect(Date.now() - asked).toBeLessThan(1_500);
      const hashes = JSON.parse(await readFile(path.join(studioDir, "state", "hashes.json"), "utf8")) as { files: object };
      expect(Object.keys(hashes.files)).not.toContain("checkpoints/volume-big.safetensors");
    } finally {
      await rm(big, { force: true });
    }
  });

  it("adopts unlisted files where they are, with what CivitAI said of them, and says why it skips the rest", async () => {
    const civitaiPath = `${FOLDER}/v${FIRST_VERSION + 5}.safetensors`;

    const { status, json } = await call<{ added: unknown[]; skipped: unknown[] }>("POST", "/api/admin/models/adopt", {
      json: { files: [civitaiPath, `${FOLDER}/homemade.safetensors`, "checkpoints/intact.safetensors", `${FOLDER}/ghost.safetensors`, `${FOLDER}/notes.txt`] },
    });

    expect(status).toBe(200);
    expect(json.added).toEqual([
      { path: civitaiPath, name: `Test model ${FIRST_VERSION + 5} v1.0`, file: `v${FIRST_VERSION + 5}.safetensors`, dest: FOLDER, category: "loras-volume-test" },
      { path: `${FOLDER}/homemade.safetensors`, name: "homemade", file: "homemade.safetensors", dest: FOLDER, category: "loras-volume-test" },
    ]);
    expect(json.skipped).toEqual([
      { path: "checkpoints/intact.safetensors", reason: "already listed in models.json" },
      { path: `${FOLDER}/ghost.safetensors`, reason: "no such model file on the volume" },
      { path: `${FOLDER}/notes.txt`, reason: expect.stringMatching(/^not a model file/) },
    ]);
    const doc = await readCatalog(studioDir, "models");
    expect(doc.categories.find((c) => c.id === "loras-volume-test")?.models[0]).toMatchObject({
      file: `v${FIRST_VERSION + 5}.safetensors`,
      dest: FOLDER,
      tags: ["adopted"],
      civitai_version_id: String(FIRST_VERSION + 5),
      civitai_model_id: expect.any(Number),
      base_model: "SDXL 1.0",
      sha256: sha256Of(fileBytes(`civitai/${FIRST_VERSION + 5}`, SEED, 0, 3000)),
    });
    expect((await listed()).find((m) => m.file === "homemade.safetensors")).toMatchObject({ status: "present", tags: ["adopted"] });
    expect((await unlisted()).map((file) => file.path)).not.toContain(civitaiPath);
  });

  it("verifies the catalog's files, and the listing marks the one with a flipped byte damaged", async () => {
    // bit rot: one byte changes, the size and mtime do not
    const file = path.join(modelsDir, "checkpoints", "rotten.safetensors");
    const { atime, mtime } = await stat(file);
    const handle = await open(file, "r+");
    await handle.write(Buffer.from([rotten[1234]! ^ 0x01]), 0, 1, 1234);
    await handle.close();
    await utimes(file, atime, mtime);

    const job = await run("verify");

    // intact, rotten, and the adopted files that have a sha256 (the two adopted above)
    expect(job).toEqual({ status: "done", hashed: 4, total: 4, verified: 3, damaged: 1 });
    const models = await listed();
    const good = models.find((m) => m.file === "intact.safetensors")!;
    expect(good).toMatchObject({ status: "present", verified: true });
    expect(good).not.toHaveProperty("error");
    const bad = models.find((m) => m.file === "rotten.safetensors")!;
    const got = sha256Of(await readFile(file));
    expect(bad).toMatchObject({
      status: "present",
      verified: false,
      error: `The file is damaged: its SHA256 is ${got}, the catalog says ${sha256Of(rotten)}. Delete it and download it again.`,
    });
  });

  it("verifies only the named files when asked, and refuses a name no catalog has", async () => {
    expect(await run("verify", { files: ["intact.safetensors"] })).toEqual({ status: "done", hashed: 1, total: 1, verified: 1, damaged: 0 });

    const { status, json } = await call("POST", "/api/admin/models/verify", { json: { files: ["nope.safetensors"] } });

    expect(status).toBe(404);
    expect(json).toEqual({ detail: "Not in either catalog: 'nope.safetensors'" });
  });

  it("refuses an adopt without files with 422", async () => {
    const { status } = await call("POST", "/api/admin/models/adopt", { json: { files: [] } });

    expect(status).toBe(422);
  });

  it.each([
    ["GET", "unlisted"],
    ["POST", "identify"],
    ["GET", "identify"],
    ["DELETE", "identify"],
    ["POST", "adopt"],
    ["POST", "verify"],
    ["GET", "verify"],
    ["DELETE", "verify"],
  ])("refuses %s /api/admin/models/%s without the API key", async (method, route) => {
    const { status, json } = await call(method, `/api/admin/models/${route}`, { key: null });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });
});
