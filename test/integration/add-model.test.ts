import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { catalog, readCatalog, writeCatalog, type TestModel } from "../support/catalogs";
import { call } from "../support/client";
import { modelFile, settled, stackInfo, upstream } from "../support/downloads";
import { CIVITAI_API_KEY, HF_TOKEN } from "../support/global-stack";

/**
 * POST /api/admin/models/add against the running stack, CivitAI and Hugging Face played by the stand-in on
 * CIVITAI_BASE_URL and HF_ENDPOINT (one local origin for both), METADATA_TIMEOUT_SECONDS 2 (stack.ts).
 * Ids here (71400x, 7140) are this file's own: the stand-in's files and canned answers outlive a file.
 */
interface Added {
  status: "added";
  model: TestModel & Record<string, unknown>;
  category: string;
  download: "queued" | "present" | null;
}

const add = (body: Record<string, unknown>) => call<Added>("POST", "/api/admin/models/add", { json: body });
const detail = (reply: { json: unknown }) => (reply.json as { detail: string }).detail;

const lora = { modelId: 7140, modelName: "Add Test LoRA", type: "LORA", tags: ["style", "test"], baseModel: "SDXL 1.0" };
const registered: Record<string, { sha256: string }> = {};

describe("POST /api/admin/models/add", () => {
  let base: string;
  beforeAll(async () => {
    const up = upstream();
    base = stackInfo().upstream;
    await up.setTokens({ hf: HF_TOKEN, civitai: CIVITAI_API_KEY });
    await up.register({ id: "civitai/714001", size: 64 * 1024, civitai: { ...lora, versionName: "v1", publishedAt: "2024-01-01T00:00:00.000Z" } });
    registered.newest = await up.register({ id: "civitai/714002", size: 256 * 1024, name: "add_lora_v2.safetensors", civitai: { ...lora, versionName: "v2", publishedAt: "2024-06-01T00:00:00.000Z" } });
    await up.register({ id: "civitai/714003", size: 1024, name: "add_vae.safetensors", civitai: { modelId: 7141, modelName: "Add VAE", type: "VAE" } });
    await up.register({ id: "civitai/714004", size: 1024, name: "add_ckpt.safetensors", civitai: { modelId: 7142, modelName: "Add Ckpt", type: "Checkpoint" } });
    await up.register({ id: "civitai/714005", size: 1024, name: "add_air.safetensors", civitai: { modelId: 7143, modelName: "Add AIR", type: "LoCon" } });
    await up.register({ id: "civitai/714009", size: 1024, name: "add_listed.safetensors", civitai: { modelId: 7149, type: "LORA" } });
    await up.register({ id: "civitai/714010", size: 1024, name: "add_secret.safetensors", civitai: { modelId: 7150, type: "Upscaler" } });
    registered.vae = await up.register({ id: "add-org/flux-pack/split_files/vae/add_ae.safetensors", size: 2048 });
    await up.register({ id: "add-org/flux-pack/split_files/text_encoders/add_clip.safetensors", size: 2048 });
    await up.register({ id: "add-org/flux-pack/weights/add_loose.safetensors", size: 2048 });
    await up.register({ id: "add-org/gated/vae/add_gated.safetensors", size: 2048, mode: "gated" });
    await up.can({ path: "/api/v1/model-versions/714401", status: 401, body: { error: "Unauthorized" } });
    await up.can({ path: "/api/v1/model-versions/714403", status: 403, body: { error: "Forbidden" } });
    await up.can({ path: "/api/v1/model-versions/714504", delayMs: 10_000, body: {} });

    const { studioDir } = stackInfo();
    await writeCatalog(studioDir, "models", catalog([{ id: "add-loras", name: "LoRAs", models: [{ name: "Older", file: "older_lora.safetensors", dest: "loras" }] }]));
    await writeCatalog(studioDir, "loras", catalog([{ id: "sdxl", name: "SDXL", models: [{ name: "Listed LoRA", file: "listed.safetensors", dest: "loras/sdxl", civitai_version_id: "714009" }] }]));
  });

  it("adds a model page's newest published version, its download queued, and the download completes", async () => {
    const reply = await add({ url: `${base}/models/7140` });

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      status: "added",
      category: "add-loras",
      download: "queued",
      model: {
        name: "Add Test LoRA v2",
        file: "add_lora_v2.safetensors",
        dest: "loras",
        source: "civitai",
        size_gb: 0,
        tags: ["style", "test", "added"],
        base_model: "SDXL 1.0",
        trainedWords: [],
        civitai_model_id: 7140,
        civitai_version_id: "714002",
        civitai_version: "v2",
        civitai_type: "LORA",
        sha256: registered.newest!.sha256,
      },
    });
    expect((await settled("add_lora_v2.safetensors")).status).toBe("done");
    const bytes = await readFile(modelFile({ dest: "loras", file: "add_lora_v2.safetensors" }));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(registered.newest!.sha256);
    const listing = await call<{ categories: { id: string; models: { file: string; status: string }[] }[] }>("GET", "/api/admin/models");
    expect(listing.json.categories.find((c) => c.id === "add-loras")!.models).toContainEqual(expect.objectContaining({ file: "add_lora_v2.safetensors", status: "present" }));
  });

  it("reads every other link form: a version's page, a download link, an AIR, Hugging Face blob and resolve", async () => {
    const page = await add({ url: "https://civitai.com/models/7141/add-vae?modelVersionId=714003", download: false });
    const download = await add({ url: `https://www.civitai.red/api/download/models/714004`, download: false });
    const air = await add({ url: "urn:air:sdxl:lora:civitai:7143@714005", download: false });
    const blob = await add({ url: "https://huggingface.co/add-org/flux-pack/blob/main/split_files/vae/add_ae.safetensors", download: false });
    const resolve = await add({ url: `${base}/add-org/flux-pack/resolve/v2/split_files/text_encoders/add_clip.safetensors?download=true`, download: false });

    expect([page, download, air, blob, resolve].map((r) => [r.status, r.json.model.file, r.json.model.dest, r.json.download])).toEqual([
      [200, "add_vae.safetensors", "vae", null],
      [200, "add_ckpt.safetensors", "checkpoints", null],
      [200, "add_air.safetensors", "loras", null],
      [200, "add_ae.safetensors", "vae", null],
      [200, "add_clip.safetensors", "text_encoders", null],
    ]);
    expect(page.json.model).toMatchObject({ civitai_version_id: "714003", civitai_model_id: 7141, civitai_type: "VAE" });
    expect(blob.json.model).toMatchObject({ source: "huggingface", hf_repo: "add-org/flux-pack", hf_file: "split_files/vae/add_ae.safetensors", sha256: registered.vae!.sha256 });
    expect(blob.json.model.hf_revision).toBeUndefined();
    expect(resolve.json.model).toMatchObject({ hf_revision: "v2", tags: expect.arrayContaining(["added"]) });
    // nothing queued for any of them
    const status = JSON.parse(await readFile(`${stackInfo().studioDir}/state/status.json`, "utf8")) as { downloads: Record<string, unknown> };
    expect(Object.keys(status.downloads)).not.toContain("add_vae.safetensors");
    const written = (await readCatalog(stackInfo().studioDir, "models")).categories.flatMap((c) => c.models.map((m) => m.file));
    expect(written).toEqual(expect.arrayContaining(["add_vae.safetensors", "add_ckpt.safetensors", "add_air.safetensors", "add_ae.safetensors", "add_clip.safetensors"]));
  });

  it("refuses a model either catalog has, naming the entry: 409", async () => {
    const again = await add({ url: `${base}/api/download/models/714002` });
    const inLoras = await add({ url: `${base}/api/download/models/714009` });

    expect([again.status, detail(again)]).toEqual([409, "'add_lora_v2.safetensors' is already in the models catalog as 'Add Test LoRA v2' (loras/add_lora_v2.safetensors)"]);
    expect([inLoras.status, detail(inLoras)]).toEqual([409, "CivitAI version 714009 is already in the loras catalog as 'Listed LoRA' (loras/sdxl/listed.safetensors)"]);
  });

  it("refuses a link it does not know, and a Hugging Face file whose folder it cannot tell: 422", async () => {
    const unknown = await add({ url: "https://example.com/models/1" });
    const loose = await add({ url: `${base}/add-org/flux-pack/resolve/main/weights/add_loose.safetensors` });
    const withDest = await add({ url: `${base}/add-org/flux-pack/resolve/main/weights/add_loose.safetensors`, dest: "diffusion_models", download: false });
    const unsafeDest = await add({ url: `${base}/add-org/flux-pack/resolve/main/weights/add_loose.safetensors`, dest: "../outside" });

    expect(unknown.status).toBe(422);
    expect(detail(unknown)).toMatch(/^Not a link to a model this service can add\. It takes a CivitAI model page \(\/models\/<modelId>.*urn:air:.*\/blob\/.*\/resolve\//);
    expect([loose.status, detail(loose)]).toEqual([422, expect.stringMatching(/^Cannot tell which ComfyUI models folder .*'weights\/add_loose.safetensors': pass "dest"/)]);
    expect([withDest.status, withDest.json.model.dest]).toEqual([200, "diffusion_models"]);
    expect(unsafeDest.status).toBe(422);
  });

  it("says what CivitAI and Hugging Face refuse, in words: 404, 403", async () => {
    const noVersion = await add({ url: `${base}/api/download/models/714404` });
    const noFile = await add({ url: `${base}/add-org/flux-pack/resolve/main/vae/none.safetensors` });
    const badKey = await add({ url: `${base}/api/download/models/714401` });
    const early = await add({ url: `${base}/api/download/models/714403` });
    await upstream().setTokens({ hf: "another-token", civitai: CIVITAI_API_KEY });
    const gated = await add({ url: `${base}/add-org/gated/resolve/main/vae/add_gated.safetensors` }).finally(() =>
      upstream().setTokens({ hf: HF_TOKEN, civitai: CIVITAI_API_KEY }),
    );

    expect([noVersion.status, detail(noVersion)]).toEqual([404, "CivitAI has no model version 714404"]);
    expect([noFile.status, detail(noFile)]).toEqual([404, "Hugging Face has no file 'vae/none.safetensors' in add-org/flux-pack at revision 'main'"]);
    expect([badKey.status, detail(badKey)]).toEqual([403, "CivitAI refused CIVITAI_API_KEY (HTTP 401): check that the key is valid"]);
    expect([early.status, detail(early)]).toEqual([403, "CivitAI refused to show this model (HTTP 403): the version may be in early access"]);
    expect([gated.status, detail(gated)]).toEqual([
      403,
      `Hugging Face refused the file (HTTP 401): the repo is gated or private: set HF_TOKEN and accept the licence at ${base}/add-org/gated`,
    ]);
  });

  it("gives up when CivitAI does not answer within METADATA_TIMEOUT_SECONDS: 504, nothing added", async () => {
    const started = Date.now();
    const reply = await add({ url: `${base}/api/download/models/714504` });

    expect([reply.status, detail(reply)]).toEqual([504, "CivitAI did not answer within 2 s (METADATA_TIMEOUT_SECONDS); try again later"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("never shows a credential, not even one pasted in the link, and answers the Chrome extension with CORS", async () => {
    const origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
    const preflight = await call("OPTIONS", "/api/admin/models/add", {
      key: null,
      headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key" },
    });
    // call() fails any answer that carries a marker credential, headers included
    const reply = await call<Added>("POST", "/api/admin/models/add", {
      json: { url: `${base}/api/download/models/714010?token=${CIVITAI_API_KEY}`, download: false },
      headers: { Origin: origin },
    });
    const refused = await call("POST", "/api/admin/models/add", { json: { url: `https://example.com/?token=${HF_TOKEN}` }, headers: { Origin: origin } });

    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    expect([reply.status, reply.json.model.dest, reply.headers.get("access-control-allow-origin")]).toEqual([200, "upscale_models", origin]);
    expect([refused.status, refused.headers.get("access-control-allow-origin")]).toEqual([422, origin]);
    expect(JSON.stringify(await readCatalog(stackInfo().studioDir, "models"))).not.toContain("token=");
  });
});
