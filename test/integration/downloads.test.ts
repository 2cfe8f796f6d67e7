import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import {
  civitaiEntry,
  hfEntry,
  modelFile,
  queue,
  readHeartbeat,
  readStatusFile,
  settled,
  stackLog,
  type StatusEntry,
  stackInfo,
  upstream,
  urlEntry,
  useModels,
  waitUntil,
} from "../support/downloads";
import { HEARTBEAT_MS } from "../../lib/state/heartbeat";
import { CIVITAI_API_KEY, HF_TOKEN } from "../support/global-stack";
import type { TestModel } from "../support/catalogs";
import { fileBytes } from "../support/upstream";

const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");
const MiB = 1024 * 1024;

const hf = hfEntry("stabilityai/sdxl-vae/sdxl_vae.safetensors", "sdxl_vae.safetensors", "vae");
const big = hfEntry("black-forest-labs/FLUX.1-schnell/flux1-schnell.safetensors", "flux1-schnell.safetensors", "diffusion_models/flux");
const civitai = civitaiEntry(128713, "dreamshaper_8.safetensors", "checkpoints");
const plain = urlEntry("xinntao/RealESRGAN_x4plus.pth", "RealESRGAN_x4plus.pth");
// in the catalog, never asked for: what a refused request must leave untouched
const untouched = urlEntry("xinntao/RealESRGAN_x2plus.pth", "RealESRGAN_x2plus.pth");
const downloadable = [hf, big, civitai, plain];

/**
 * The models each test needs on disk: the test of a download records it once done; a later test that
 * needs the model finds it there, or (run alone, or after that test failed) downloads it itself.
 */
const done = new Map<string, StatusEntry>();
async function onDisk(model: TestModel): Promise<void> {
  if (done.has(model.file)) return;
  await queue(model.file);
  const entry = await settled(model.file, 60_000);
  expect(entry.status, `${model.file} downloaded`).toBe("done");
  done.set(model.file, entry);
}

describe("downloading a model", () => {
  const registered: Record<string, { sha256: string; size: number }> = {};

  beforeAll(async () => {
    const up = upstream();
    await up.setTokens({ hf: HF_TOKEN, civitai: CIVITAI_API_KEY });
    registered.hf = await up.register({ id: "stabilityai/sdxl-vae/sdxl_vae.safetensors", size: 3 * MiB + 17 });
    // a CDN that holds each connection to 16 MiB/s: more connections pay, and the engine adds them
    const perConnection = 16 * MiB;
    registered.big = await up.register({ id: "black-forest-labs/FLUX.1-schnell/flux1-schnell.safetensors", size: 64 * MiB + 5, bytesPerSecond: perConnection });
    registered.civitai = await up.register({ id: "civitai/128713", size: 48 * MiB + 3, mode: "needs-token", signedUses: 1, bytesPerSecond: perConnection });
    registered.plain = await up.register({ id: "xinntao/RealESRGAN_x4plus.pth", size: 2 * MiB });
    await useModels([...downloadable, untouched]);
  });

  it("downloads from Hugging Face byte for byte, verified against X-Linked-Etag, with the token for huggingface only", async () => {
    await up().clearLog();

    const { status, json } = await queue(hf.file);
    const entry = await settled(hf.file);

    expect(status).toBe(200);
    expect(json).toEqual({ status: "queued", file: hf.file });
    expect(entry).toMatchObject({ status: "done", bytes_downloaded: registered.hf!.size, bytes_total: registered.hf!.size, percent: 100 });
    expect(await sha256(modelFile(hf))).toBe(registered.hf!.sha256);
    done.set(hf.file, entry);
    const log = await up().log();
    const resolve = log.filter((l) => l.route === "hf-resolve");
    const cdn = log.filter((l) => l.route === "cdn");
    expect(resolve.length).toBeGreaterThan(0);
    expect(resolve.every((l) => l.authorization === `Bearer ${HF_TOKEN}` && l.host.startsWith("127.0.0.1"))).toBe(true);
    expect(cdn.length).toBeGreaterThan(0);
    // the CDN is another host: the token stays behind
    expect(cdn.every((l) => l.authorization === null && l.host.startsWith("localhost"))).toBe(true);
    expect(log.every((l) => /comfyui-models-admin/.test(l.userAgent ?? ""))).toBe(true);
  });

  it("adds connections while they add throughput (a CDN limiting each one), and reassembles the file exactly", async () => {
    await up().clearLog();

    await queue(big.file);
    const entry = await settled(big.file, 60_000);

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(big))).toBe(registered.big!.sha256);
    done.set(big.file, entry);
    // one connection from byte 0, then more (DOWNLOAD_CONNECTIONS=4 here), each from a byte of its own
    const ranges = new Set((await up().log()).filter((l) => l.route === "cdn" && l.status === 206).map((l) => l.range));
    expect(ranges.size).toBeGreaterThanOrEqual(3);
    expect(await stackLog()).toMatch(/flux1-schnell\.safetensors: [234] connections now/);
  });

  it("downloads from CivitAI with the key as ?token= on CivitAI only, and re-resolves an expired signed URL", async () => {
    await up().clearLog();

    await queue(civitai.file);
    const entry = await settled(civitai.file);

    expect(entry.status, entry.error).toBe("done");
    expect(await sha256(modelFile(civitai))).toBe(registered.civitai!.sha256);
    done.set(civitai.file, entry);
    const log = await up().log();
    const api = log.filter((l) => l.route === "civitai-download");
    const signed = log.filter((l) => l.route === "signed");
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((l) => new URL(l.path, "http://x").searchParams.get("token") === CIVITAI_API_KEY)).toBe(true);
    expect(log.every((l) => l.authorization === null || l.route === "hf-resolve")).toBe(true);
    expect(signed.every((l) => !l.path.includes(CIVITAI_API_KEY))).toBe(true);
    // each signed URL serves one GET here: the second use is refused as expired and resolved again
    expect(signed.some((l) => l.status === 403)).toBe(true);
    expect(api.length).toBeGreaterThan(1);
  });

  it("downloads a plain url into a nested folder", async () => {
    await queue(plain.file);
    const entry = await settled(plain.file);

    expect(entry.status).toBe("done");
    const expected = fileBytes("xinntao/RealESRGAN_x4plus.pth", 0, 0, 2 * MiB);
    expect((await readFile(modelFile(plain))).equals(expected)).toBe(true);
    done.set(plain.file, entry);
  });

  it("answers present, and downloads nothing, for a file already on disk", async () => {
    await onDisk(hf);
    const before = (await up().stats("stabilityai/sdxl-vae/sdxl_vae.safetensors")).gets;

    const { json } = await queue(hf.file);

    expect(json).toEqual({ status: "present", file: hf.file });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await up().stats("stabilityai/sdxl-vae/sdxl_vae.safetensors")).gets).toBe(before);
  });

  it("leaves no partial or control file behind, and lists the models as present", async () => {
    for (const model of downloadable) await onDisk(model);
    const { json } = await call<{ categories: { models: { file: string; status: string; on_disk_bytes: number }[] }[] }>(
      "GET",
      "/api/admin/models",
    );
    const leftovers = [];
    for (const model of downloadable) {
      const dir = path.dirname(modelFile(model));
      leftovers.push(...(await readdir(dir)).filter((name) => name.includes(".part")));
    }

    expect(leftovers).toEqual([]);
    const listed = json.categories[0]!.models;
    expect(listed.map((m) => m.status)).toEqual(["present", "present", "present", "present", "not_downloaded"]);
    expect(listed[1]!.on_disk_bytes).toBe(64 * MiB + 5);
  });

  it("answers 404 with the reference message for a file the catalog lacks", async () => {
    const { status, json } = await queue("nonexistent.safetensors");

    expect(status).toBe(404);
    expect(json).toEqual({ detail: "Model 'nonexistent.safetensors' not found in catalog" });
    expect((await readStatusFile()).downloads["nonexistent.safetensors"]).toBeUndefined();
  });

  it.each([
    ["missing", null],
    ["wrong", "nope"],
  ])("refuses a %s API key with 401 and queues nothing", async (_, key) => {
    const single = await call("POST", `/api/admin/models/download/${untouched.file}`, { key });
    const batch = await call("POST", "/api/admin/models/download-batch", { key, json: { filenames: [untouched.file] } });

    for (const { status, json } of [single, batch]) {
      expect(status).toBe(401);
      expect(json).toEqual({ detail: "Invalid or missing API key" });
    }
    // a queued entry would be written before the answer: none is there after it
    expect((await readStatusFile()).downloads[untouched.file]).toBeUndefined();
  });

  it("reports a running sidecar", async () => {
    const { json } = await call<{ stats: { daemon_running: boolean } }>("GET", "/api/admin/models");
    const beat = await waitUntil(readHeartbeat, "a heartbeat");

    expect(json.stats.daemon_running).toBe(true);
    // it beats every HEARTBEAT_MS, and has lately
    expect(Date.now() - beat.heartbeat).toBeLessThan(HEARTBEAT_MS + 2_500);
    expect(stackInfo().baseUrl).toMatch(/^http:/);
  });
});

const up = upstream;
