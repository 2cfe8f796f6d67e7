import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addModel, AddRequest, type AddAnswer } from "../../../lib/add/add";
import { ConflictError, InvalidError, NotFoundError, RefusedUpstreamError, UpstreamTimedOutError } from "../../../lib/errors";
import { catalog, placeModel, readCatalog, writeCatalog, type TestCategory } from "../../support/catalogs";
import { startUpstream, upstreamClient, type Upstream, type UpstreamClient } from "../../support/upstream";
import { makeTempDir, removeTempDir, testStudio, type TestStudio } from "../helpers";

/** CivitAI and Hugging Face as the stand-in plays them, and a studio of each test's own pointed at it. */
let up: Upstream;
let client: UpstreamClient;
let studio: TestStudio;
beforeAll(async () => {
  up = await startUpstream();
  client = upstreamClient(up.url);
});
afterAll(() => up.close());
beforeEach(async () => {
  await client.reset();
  studio = testStudio(await makeTempDir(), { CIVITAI_BASE_URL: up.url, HF_ENDPOINT: up.url, METADATA_TIMEOUT_SECONDS: "1", DOWNLOAD_RETRY_BASE_MS: "10" });
});
afterEach(() => removeTempDir(studio.root));

const add = (body: Record<string, unknown>): Promise<AddAnswer> => addModel(studio, AddRequest.parse(body));
const models = () => readCatalog(studio.studioDir, "models");
const useCatalog = (name: "models" | "loras", categories: TestCategory[]) => writeCatalog(studio.studioDir, name, catalog(categories));
const lora = (file: string, extra: Record<string, unknown> = {}) => ({ name: file, file, dest: "loras", ...extra });
const statusFile = async () => JSON.parse(await readFile(path.join(studio.studioDir, "state", "status.json"), "utf8")) as { downloads: Record<string, { status: string }> };

const detailer = { modelId: 4242, modelName: "Detail Tweaker", type: "LORA", tags: ["detail", "tool"], baseModel: "SD 1.5", trainedWords: ["detailed"] };

describe("addModel from CivitAI", () => {
  it("adds a model page's newest published version as metadata describes it, tagged added, into the category of its folder", async () => {
    await client.register({ id: "civitai/101", size: 1000, civitai: { ...detailer, versionName: "v1", publishedAt: "2024-01-01T00:00:00.000Z" } });
    const newest = await client.register({ id: "civitai/102", size: 3 * 1024 ** 2, name: "tweaker_v2.safetensors", civitai: { ...detailer, versionName: "v2", publishedAt: "2024-06-01T00:00:00.000Z" } });
    await client.register({ id: "civitai/103", size: 10, civitai: { ...detailer, versionName: "v3", status: "Draft", publishedAt: "2025-01-01T00:00:00.000Z" } });
    await useCatalog("models", [{ id: "ckpt", name: "Checkpoints", models: [lora("base.safetensors", { dest: "checkpoints" })] }, { id: "my-loras", name: "LoRAs", models: [lora("a.safetensors")] }]);

    const answer = await add({ url: "https://civitai.com/models/4242/detail-tweaker", download: false });

    const entry = {
      name: "Detail Tweaker v2",
      file: "tweaker_v2.safetensors",
      dest: "loras",
      source: "civitai",
      size_gb: 0,
      tags: ["detail", "tool", "added"],
      base_model: "SD 1.5",
      trainedWords: ["detailed"],
      civitai_model_id: 4242,
      civitai_version_id: "102",
      civitai_version: "v2",
      civitai_type: "LORA",
      sha256: newest.sha256,
    };
    expect(answer).toEqual({ status: "added", model: entry, category: "my-loras", download: null });
    expect((await models()).categories[1]!.models).toEqual([lora("a.safetensors"), entry]);
  });

  it("adds the version a link names, and picks another of its files by name, so downloads fetch that file", async () => {
    await client.can({
      path: "/api/v1/model-versions/555",
      body: {
        id: 555,
        modelId: 55,
        name: "v1",
        baseModel: "SDXL 1.0",
        model: { name: "Two Files", type: "Checkpoint" },
        files: [
          { id: 1, name: "full.safetensors", type: "Model", sizeKB: 1024 ** 2 * 6, primary: true, metadata: { format: "SafeTensor", size: "full", fp: "fp16" }, hashes: { SHA256: "A".repeat(64) }, downloadUrl: "https://civitai.com/api/download/models/555" },
          { id: 2, name: "vae.safetensors", type: "VAE", sizeKB: 320 * 1024, metadata: { format: "SafeTensor" }, hashes: { SHA256: "B".repeat(64) }, downloadUrl: "https://civitai.com/api/download/models/555?type=VAE&format=SafeTensor" },
        ],
      },
    });
    await client.can({ path: "/api/v1/models/55", body: { id: 55, name: "Two Files", type: "Checkpoint", tags: [], modelVersions: [] } });

    const vae = await add({ url: "urn:air:sdxl:checkpoint:civitai:55@555", file: "vae.safetensors", download: false });
    const refused = add({ url: "https://civitai.com/models/55?modelVersionId=555", file: "nope.safetensors" });

    expect(vae.model).toMatchObject({ file: "vae.safetensors", dest: "checkpoints", size_gb: 0.31, sha256: "b".repeat(64), civitai_file_query: "type=VAE&format=SafeTensor" });
    await expect(refused).rejects.toThrow(new InvalidError(`CivitAI version 555 has no file named 'nope.safetensors'. Its files: 'full.safetensors', 'vae.safetensors'; pass "file" with one of them`));
  });

  it("asks for dest when ComfyUI has no folder for the type, and takes the one given", async () => {
    await client.register({ id: "civitai/301", size: 10, civitai: { modelId: 30, type: "Poses" } });

    await expect(add({ url: "https://civitai.com/api/download/models/301" })).rejects.toThrow(/its CivitAI type 'Poses': pass "dest"/);
    expect((await add({ url: "https://civitai.com/api/download/models/301", dest: "poses", download: false })).model.dest).toBe("poses");
  });

  it("says CivitAI's refusals and 404s in words, and gives up at METADATA_TIMEOUT_SECONDS", async () => {
    await client.can({ path: "/api/v1/model-versions/401", status: 401, body: { error: "Unauthorized" } });
    await client.can({ path: "/api/v1/model-versions/403", status: 403, body: { error: "Forbidden" } });
    await client.can({ path: "/api/v1/model-versions/504", delayMs: 5_000, body: {} });

    await expect(add({ url: "https://civitai.com/api/download/models/401" })).rejects.toThrow(
      new RefusedUpstreamError("CivitAI needs a login to show this model: set CIVITAI_API_KEY (an API key from your CivitAI account settings)"),
    );
    await expect(add({ url: "https://civitai.com/api/download/models/403" })).rejects.toThrow(/HTTP 403\): the version may be in early access, or need CIVITAI_API_KEY$/);
    await expect(add({ url: "https://civitai.com/api/download/models/404" })).rejects.toThrow(new NotFoundError("CivitAI has no model version 404"));
    await expect(add({ url: "https://civitai.com/models/31337" })).rejects.toThrow(new NotFoundError("CivitAI has no model 31337"));
    const started = Date.now();
    await expect(add({ url: "https://civitai.com/api/download/models/504" })).rejects.toThrow(
      new UpstreamTimedOutError("CivitAI did not answer within 1 s (METADATA_TIMEOUT_SECONDS); try again later"),
    );
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});

describe("addModel: one deadline for the whole look-up", () => {
  it("gives up at METADATA_TIMEOUT_SECONDS in all, though each of its requests alone would be in time", async () => {
    await client.register({ id: "civitai/601", size: 10, civitai: { modelId: 60, type: "VAE" } });
    await client.can({ path: "/api/v1/model-versions/601", delayMs: 600, body: { id: 601, modelId: 60, name: "v1", files: [{ name: "slow.safetensors", primary: true }] } });
    await client.can({ path: "/api/v1/models/60", delayMs: 600, body: { id: 60, name: "Slow", type: "VAE", tags: [], modelVersions: [] } });

    const started = Date.now();
    await expect(add({ url: "https://civitai.com/api/download/models/601" })).rejects.toThrow(UpstreamTimedOutError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("addModel from Hugging Face", () => {
  it("adds a file with its folder from the path, its size and SHA256 from the HEAD, and keeps a revision other than main", async () => {
    const vae = await client.register({ id: "Comfy-Org/flux1/split_files/vae/ae.safetensors", size: 2048 });

    const atMain = await add({ url: `${up.url}/Comfy-Org/flux1/blob/main/split_files/vae/ae.safetensors`, download: false });
    await useCatalog("models", []);
    const atRevision = await add({ url: `https://huggingface.co/Comfy-Org/flux1/resolve/v2/split_files/vae/ae.safetensors`, download: false });

    expect(atMain.model).toEqual({
      name: "ae (Comfy-Org/flux1)",
      file: "ae.safetensors",
      dest: "vae",
      source: "huggingface",
      size_gb: 0,
      tags: ["diffusers", "safetensors", "text-to-image", "flux1", "added"],
      hf_repo: "Comfy-Org/flux1",
      hf_file: "split_files/vae/ae.safetensors",
      sha256: vae.sha256,
    });
    expect(atRevision.model).toMatchObject({ hf_revision: "v2", sha256: vae.sha256 });
    expect(atMain.category).toBe("vae");
    expect((await models()).categories).toEqual([{ id: "vae", name: "VAEs", models: [atRevision.model] }]);
  });

  it("asks for dest before asking Hugging Face anything when the path names no ComfyUI folder", async () => {
    await expect(add({ url: "https://huggingface.co/org/repo/resolve/main/weights/model.safetensors" })).rejects.toThrow(/path 'weights\/model.safetensors': pass "dest"/);
    expect(await client.log()).toEqual([]);
  });

  it("tells a gated repo from a missing one", async () => {
    await client.register({ id: "org/gated/vae/x.safetensors", size: 10, mode: "gated" });
    await client.register({ id: "org/known/vae/x.safetensors", size: 10 });

    await expect(add({ url: "https://huggingface.co/org/gated/resolve/main/vae/x.safetensors" })).rejects.toThrow(
      new RefusedUpstreamError(`Hugging Face refused the file (HTTP 401): the repo is gated or private: set HF_TOKEN and accept the licence at ${up.url}/org/gated`),
    );
    await expect(add({ url: "https://huggingface.co/org/nothing/resolve/main/vae/x.safetensors" })).rejects.toThrow(NotFoundError);
    await expect(add({ url: "https://huggingface.co/org/known/resolve/main/vae/y.safetensors" })).rejects.toThrow(
      new NotFoundError("Hugging Face has no file 'vae/y.safetensors' in org/known at revision 'main'"),
    );
  });
});

describe("addModel: the catalogs", () => {
  beforeEach(async () => {
    await client.register({ id: "civitai/77", size: 10, name: "seventy.safetensors", civitai: { modelId: 7, type: "LORA" } });
  });
  const url = "https://civitai.com/api/download/models/77";

  it("refuses a file name the models catalog has in any folder, naming the entry", async () => {
    await useCatalog("models", [{ id: "x", name: "X", models: [lora("seventy.safetensors", { name: "Mine", dest: "checkpoints" })] }]);

    await expect(add({ url })).rejects.toThrow(new ConflictError("'seventy.safetensors' is already in the models catalog as 'Mine' (checkpoints/seventy.safetensors)"));
  });

  it("refuses the loras catalog's same folder and file, and its same CivitAI version", async () => {
    await useCatalog("loras", [{ id: "l", name: "L", models: [lora("seventy.safetensors", { name: "Theirs" })] }]);
    await expect(add({ url })).rejects.toThrow(new ConflictError("'seventy.safetensors' is already in the loras catalog as 'Theirs' (loras/seventy.safetensors)"));

    await useCatalog("loras", [{ id: "l", name: "L", models: [lora("other.safetensors", { name: "Theirs", dest: "loras/sd15", civitai_version_id: "77" })] }]);
    await expect(add({ url })).rejects.toThrow(new ConflictError("CivitAI version 77 is already in the loras catalog as 'Theirs' (loras/sd15/other.safetensors)"));
    // the same file in another folder of the loras catalog is another file
    await useCatalog("loras", [{ id: "l", name: "L", models: [lora("seventy.safetensors", { dest: "loras/sd15" })] }]);
    expect((await add({ url, download: false })).status).toBe("added");
  });

  it("joins the category asked for, or makes it with that id; a new id must be plain", async () => {
    await useCatalog("models", [{ id: "ckpt", name: "Checkpoints", models: [] }]);

    expect((await add({ url, category: "ckpt", download: false })).category).toBe("ckpt");
    await useCatalog("models", []);
    expect((await add({ url, category: "my-new.one", download: false })).category).toBe("my-new.one");
    expect((await models()).categories.map(({ id, name }) => [id, name])).toEqual([["my-new.one", "my-new.one"]]);
    await useCatalog("models", []);
    await expect(add({ url, category: "no spaces" })).rejects.toThrow(/No category 'no spaces', and a new category's id is letters/);
  });

  it("starts a category of its own when none holds only its folder's models, under an id not taken", async () => {
    await useCatalog("models", [{ id: "loras", name: "Mixed", models: [lora("a.safetensors"), lora("b.safetensors", { dest: "vae" })] }]);

    const answer = await add({ url, download: false });

    expect(answer.category).toBe("loras-2");
    expect((await models()).categories.map(({ id, name }) => [id, name])).toEqual([["loras", "Mixed"], ["loras-2", "LoRAs"]]);
  });

  it("queues the download, says present when the file is on disk already, and queues nothing when asked not to", async () => {
    expect((await add({ url })).download).toBe("queued");
    expect((await statusFile()).downloads["seventy.safetensors"]).toMatchObject({ status: "queued" });

    await client.register({ id: "civitai/78", size: 10, name: "here.safetensors", civitai: { modelId: 8, type: "VAE" } });
    await placeModel(studio.modelsDir, { dest: "vae", file: "here.safetensors" });
    expect((await add({ url: "https://civitai.com/api/download/models/78" })).download).toBe("present");

    await client.register({ id: "civitai/79", size: 10, name: "later.safetensors", civitai: { modelId: 9, type: "VAE" } });
    expect((await add({ url: "https://civitai.com/api/download/models/79", download: false })).download).toBeNull();
    expect((await statusFile()).downloads["later.safetensors"]).toBeUndefined();
  });

  it("refuses a link it does not recognise, saying the forms it takes, before asking anyone", async () => {
    await expect(add({ url: "https://example.com/models/1" })).rejects.toThrow(/^Not a link to a model this service can add\. It takes a CivitAI model page/);
    expect(await client.log()).toEqual([]);
  });
});
