import { readFile, rm, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hashCachePath, readHashCache, updateHashCache } from "../../../lib/state/hash-cache";
import { readStatus, updateStatus } from "../../../lib/state/status";
import { UNKNOWN_ASKED_AGAIN_MS } from "../../../lib/volume/identify";
import { startJob } from "../../../lib/volume/request";
import { listUnlisted } from "../../../lib/volume/unlisted";
import { CIVITAI_API_KEY } from "../../support/secrets";
import { catalogDoc, category, model, writeCatalog } from "../helpers";
import { useJobs } from "./jobs-harness";

const SEED = 41;
const jobs = useJobs(SEED);
const BY_HASH = "/api/v1/model-versions/by-hash";

/** `count` files CivitAI knows (versions 5000...), in loras/, and their SHA256s. */
async function civitaiFiles(count: number, first = 5000): Promise<Map<string, string>> {
  const shas = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const id = `civitai/${first + i}`;
    const { sha256 } = await jobs.stand.client.register({ id, size: 4096, seed: SEED });
    await jobs.put(`loras/v${first + i}.safetensors`, id);
    shas.set(`loras/v${first + i}.safetensors`, sha256);
  }
  return shas;
}

const byHashCalls = async () => (await jobs.stand.client.log()).filter((entry) => entry.path.startsWith(BY_HASH));

describe("identify", () => {
  it("hashes the unlisted files and asks CivitAI about them 100 SHA256s a call, then caches every answer", async () => {
    const shas = await civitaiFiles(130);
    await jobs.put("checkpoints/homemade.safetensors", "not/on-civitai");

    const job = await jobs.run("identify");

    expect(job).toMatchObject({ status: "done", hashed: 131, total: 131, matched: 130 });
    const calls = await byHashCalls();
    expect(calls.map((call) => [call.method, call.path, call.status])).toEqual([
      ["POST", BY_HASH, 200],
      ["POST", BY_HASH, 200],
    ]);
    // the key goes to CivitAI's own API, as a bearer token
    expect(calls.every((call) => call.authorization === `Bearer ${CIVITAI_API_KEY}`)).toBe(true);
    const { files } = await listUnlisted(jobs.studio());
    const lora = files.find((file) => file.path === "loras/v5007.safetensors")!;
    expect(lora.sha256).toBe(shas.get("loras/v5007.safetensors"));
    expect(lora.match).toEqual({ civitai_version_id: 5007, civitai_model_id: expect.any(Number), name: "Test model 5007 v1.0", type: "Checkpoint", base_model: "SDXL 1.0" });
    const homemade = files.find((file) => file.path === "checkpoints/homemade.safetensors")!;
    expect(homemade.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(homemade.match).toBeNull();
    // "not a CivitAI file" is an answer too
    const cache = await readHashCache(jobs.studio().config);
    expect(cache.matches[homemade.sha256!]).toEqual({ match: null, checked_at: expect.any(Number) });
  });

  it("reads and asks nothing again for files unchanged since the last identify", async () => {
    await civitaiFiles(3);
    await jobs.run("identify");
    const before = await readFile(hashCachePath(jobs.studio().config), "utf8");
    await jobs.stand.client.clearLog();

    const job = await jobs.run("identify");

    expect(job).toMatchObject({ status: "done", hashed: 3, total: 3, matched: 3 });
    expect(await byHashCalls()).toEqual([]);
    expect(JSON.parse(await readFile(hashCachePath(jobs.studio().config), "utf8")).files).toEqual(JSON.parse(before).files);
  });

  it("asks again, after a week, about a SHA256 CivitAI did not know", async () => {
    await jobs.put("checkpoints/homemade.safetensors", "not/on-civitai");
    await jobs.run("identify");
    const { config } = jobs.studio();
    const [sha256] = Object.keys((await readHashCache(config)).matches);
    await jobs.stand.client.clearLog();
    await jobs.run("identify");
    expect(await byHashCalls()).toEqual([]);
    await updateHashCache(config, (cache) => {
      cache.matches[sha256!]!.checked_at = Date.now() - UNKNOWN_ASKED_AGAIN_MS - 1_000;
      return { result: undefined, changed: true };
    });

    await jobs.run("identify");

    expect((await byHashCalls()).map((call) => call.method)).toEqual(["POST"]);
  });

  it("forgets the hashes of files no longer on the volume, and keeps what CivitAI said of their bytes", async () => {
    await civitaiFiles(2);
    await jobs.run("identify");
    const { config } = jobs.studio();
    await rm(path.join(jobs.studio().modelsDir, "loras", "v5000.safetensors"));

    await jobs.run("identify");

    const cache = await readHashCache(config);
    expect(Object.keys(cache.files)).toEqual(["loras/v5001.safetensors"]);
    expect(Object.keys(cache.matches)).toHaveLength(2);
  });

  it("hashes a changed file again", async () => {
    await civitaiFiles(2);
    await jobs.run("identify");
    const file = path.join(jobs.studio().modelsDir, "loras", "v5000.safetensors");
    await writeFile(file, "another model now");

    const job = await jobs.run("identify");

    expect(job).toMatchObject({ status: "done", hashed: 2, total: 2, matched: 1 });
    expect((await listUnlisted(jobs.studio())).files.find((entry) => entry.file === "v5000.safetensors")?.match).toBeNull();
  });

  it("hashes present catalog files without a sha256 too, not those with one", async () => {
    await civitaiFiles(1);
    await jobs.put("checkpoints/known.safetensors", "x/known");
    await jobs.put("checkpoints/unknown.safetensors", "x/unknown");
    await writeCatalog(
      jobs.studio(),
      "models",
      catalogDoc([category("c", [model("known.safetensors", "checkpoints", { sha256: "a".repeat(64) }), model("unknown.safetensors", "checkpoints")])]),
    );

    const job = await jobs.run("identify");

    expect(job).toMatchObject({ status: "done", hashed: 2, total: 2 });
    expect(Object.keys((await readHashCache(jobs.studio().config)).files).sort()).toEqual(["checkpoints/unknown.safetensors", "loras/v5000.safetensors"]);
  });

  it("asks for each SHA256 on its own where CivitAI refuses the batch look-up", async () => {
    await civitaiFiles(3);
    await jobs.put("checkpoints/homemade.safetensors", "not/on-civitai");
    await jobs.stand.client.can({ method: "POST", path: BY_HASH, status: 405, body: { error: "Method Not Allowed" } });

    const job = await jobs.run("identify");

    expect(job).toMatchObject({ status: "done", hashed: 4, total: 4, matched: 3 });
    const calls = await byHashCalls();
    expect(calls.filter((call) => call.method === "POST")).toHaveLength(1);
    const singles = calls.filter((call) => call.method === "GET");
    expect(singles.map((call) => call.status).sort()).toEqual([200, 200, 200, 404]);
    expect(jobs.logged.some((line) => line.includes("refused the batch look-up (HTTP 405)"))).toBe(true);
  });

  it("ends in an error that says what CivitAI answered, and keeps the hashes", async () => {
    await civitaiFiles(2);
    await jobs.stand.client.can({ method: "POST", path: BY_HASH, status: 503, body: { error: "down" } });

    const job = await jobs.run("identify");

    expect(job.status).toBe("error");
    expect(job.error).toBe("HTTP 503 from CivitAI");
    expect(Object.keys((await readHashCache(jobs.studio().config)).files)).toHaveLength(2);
  });

  it("stops within a second when cancelled, in the middle of a large file, and records nothing of it", async () => {
    await civitaiFiles(1);
    // a sparse 8 GiB file: seconds of hashing, no room on the disk; read first (by its path)
    await truncate(await jobs.put("checkpoints/big.safetensors", "x/big", 1), 8 * 1024 ** 3);
    await startJob(jobs.studio().config, "identify");
    await jobs.worker().tick();
    await new Promise((resolve) => setTimeout(resolve, 300));

    await updateStatus(jobs.studio().config, (status) => {
      status.identify!.cancel = true;
      return { result: undefined, changed: true };
    });
    const asked = Date.now();
    let job = (await readStatus(jobs.studio().config)).identify!;
    while (job.status === "running" && Date.now() - asked < 5_000) {
      await jobs.worker().tick();
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await readStatus(jobs.studio().config)).identify!;
    }

    expect(Date.now() - asked).toBeLessThan(1_000);
    expect(job).toMatchObject({ status: "done", cancelled: true });
    expect(job).not.toHaveProperty("cancel");
    expect(Object.keys((await readHashCache(jobs.studio().config)).files)).not.toContain("checkpoints/big.safetensors");
  });
});
