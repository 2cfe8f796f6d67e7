import { beforeAll, describe, expect, it } from "vitest";
import { catalog, readCatalog, writeCatalog, type TestModel } from "../support/catalogs";
import { call, uploadForm, type ApiReply } from "../support/client";
import { readStatusFile, stackInfo, stackLog, upstream, waitUntil } from "../support/downloads";
import { CIVITAI_API_KEY, HF_TOKEN } from "../support/global-stack";
import { HF_SHA, hfInfo, juggModel, juggVersion, lockedVersion } from "../support/metadata-payloads";

const civ = (file: string, version: number, extra: Partial<TestModel> = {}): TestModel => ({
  name: `${file} (local name)`,
  file,
  dest: "checkpoints",
  source: "civitai",
  civitai_version_id: String(version),
  ...extra,
});

const models: TestModel[] = [
  civ("juggernautXL_v9.safetensors", 456194, { my_note: "keep me", tags: ["sdxl"] }),
  civ("dreamshaper_8.safetensors", 128713, { name: "My DreamShaper", name_locked: true }),
  civ("missing.safetensors", 999999),
  civ("busy.safetensors", 777),
  civ("hanging.safetensors", 888),
  { name: "SDXL", file: "sd_xl_base_1.0.safetensors", dest: "checkpoints", source: "huggingface", hf_repo: "stabilityai/stable-diffusion-xl-base-1.0", hf_file: "sd_xl_base_1.0.safetensors" },
  { name: "FLUX dev", file: "flux1-dev.safetensors", dest: "unet", hf_repo: "black-forest-labs/FLUX.1-dev", hf_file: "flux1-dev.safetensors" },
  { name: "Plain", file: "plain.pth", dest: "upscale_models", url: "http://127.0.0.1:9/plain.pth" },
  civ("flaky.safetensors", 555),
  civ("down.safetensors", 666),
];
const fetchable = models.filter((m) => m.civitai_version_id !== undefined || m.hf_repo !== undefined).map((m) => m.file);

interface ActivityEntry {
  time: string;
  message: string;
  level: "info" | "ok" | "error";
}

const replies: string[] = [];
const get = async <T>(path: string) => {
  const reply = await call<T>("GET", path);
  replies.push(reply.text);
  return reply;
};

/** What the one metadata run of this file showed: its start, midway, an import during it, its end. */
interface Run {
  readonly posts: ApiReply<{ queued: number; files: string[] }>[];
  readonly busy: { stats: { fetching_count: number } };
  readonly midway: Record<string, { status: string }>;
  readonly imported: number;
  readonly done: Record<string, { status: string; error?: string }>;
}

const extra = { name: "Imported", file: "imported_during_run.safetensors", dest: "loras" };

/**
 * The run every test here looks at, started by the first that needs it (whichever runs first, or alone):
 * ten requests for it at once, a look at it midway, an import while it goes on, and its end.
 */
let started: Promise<Run> | undefined;
const theRun = (): Promise<Run> => (started ??= fetchAll());

async function fetchAll(): Promise<Run> {
  const posts = await Promise.all(Array.from({ length: 10 }, () => call<{ queued: number; files: string[] }>("POST", "/api/admin/models/fetch-metadata")));
  replies.push(...posts.map((p) => p.text));
  const busy = await waitUntil(async () => {
    const { json } = await get<{ stats: { fetching_count: number } }>("/api/admin/models");
    return json.stats.fetching_count > 0 ? json : undefined;
  }, "a fetch in progress");
  const { json: midway } = await get<Record<string, { status: string }>>("/api/admin/models/metadata-status");
  const { status: imported } = await call("POST", "/api/admin/models/import", {
    body: uploadForm(JSON.stringify(catalog([{ id: "meta", name: "Meta", models: [extra] }]))),
  });
  const done = await waitUntil(async () => {
    const { json } = await get<Record<string, { status: string; error?: string }>>("/api/admin/models/metadata-status");
    return Object.values(json).every((e) => e.status === "done" || e.status === "error") ? json : undefined;
  }, "the run to end", 30_000, 200);
  return { posts, busy, midway, imported, done };
}

describe("metadata from CivitAI and Hugging Face", () => {
  beforeAll(async () => {
    const up = upstream();
    await up.setTokens({ hf: HF_TOKEN, civitai: CIVITAI_API_KEY });
    await up.can({ path: "/api/v1/model-versions/456194", body: juggVersion });
    await up.can({ path: "/api/v1/models/133005", body: juggModel });
    await up.can({ path: "/api/v1/model-versions/128713", body: lockedVersion });
    await up.can({ path: "/api/v1/models/4384", body: { ...juggModel, id: 4384, name: "DreamShaper", tags: ["anime", "art"] } });
    await up.can({ path: "/api/v1/model-versions/999999", status: 404, body: { error: "No model version with id 999999" } });
    await up.can({ path: "/api/v1/model-versions/777", status: 429, headers: { "Retry-After": "1" }, body: { error: "Too Many Requests" }, times: 1 });
    await up.can({ path: "/api/v1/model-versions/777", body: { ...juggVersion, id: 777, modelId: 133005, name: "busy" } });
    await up.can({ path: "/api/v1/model-versions/888", delayMs: 60_000, body: {} });
    // a reset connection, then a 503, then the answer: the fetch goes on to it
    await up.can({ path: "/api/v1/model-versions/555", reset: true, times: 1 });
    await up.can({ path: "/api/v1/model-versions/555", status: 503, body: { error: "Service Unavailable" }, times: 1 });
    await up.can({ path: "/api/v1/model-versions/555", body: { ...juggVersion, id: 555, modelId: 133005, name: "flaky" } });
    await up.can({ path: "/api/v1/model-versions/666", status: 503, body: { error: "Service Unavailable" } });
    await up.can({ path: "/api/models/stabilityai/stable-diffusion-xl-base-1.0", body: hfInfo });
    await up.can({
      method: "HEAD",
      path: "/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
      status: 302,
      headers: { "X-Linked-Size": "6938078334", "X-Linked-Etag": `"${HF_SHA}"`, Location: "https://cdn-lfs.example/x" },
    });
    await up.can({
      path: "/api/models/black-forest-labs/FLUX.1-dev",
      status: 401,
      body: { error: "Access to model black-forest-labs/FLUX.1-dev is restricted. You must have access to it and be authenticated to access it. Please log in." },
    });
    await writeCatalog(stackInfo().studioDir, "models", catalog([{ id: "meta", name: "Meta", models }]));
    await call("POST", "/api/admin/activity-log/clear");
  });

  it("queues every model with a CivitAI version or a Hugging Face repo, however many ask at once", async () => {
    const { posts } = await theRun();

    expect(posts.every((p) => p.status === 200)).toBe(true);
    // the first to get the lock starts the run with every model; the others add only what is no longer
    // queued or fetching by then (a model already finished), never a second copy of one in flight
    expect(posts.map((p) => p.json.queued)).toContain(fetchable.length);
    expect(posts.every((p) => p.json.queued === p.json.files.length && new Set(p.json.files).size === p.json.files.length)).toBe(true);
    expect([...new Set(posts.flatMap((p) => p.json.files))].sort()).toEqual([...fetchable].sort());
  });

  it("shows the run's progress and counts the models being fetched", async () => {
    const { busy, midway } = await theRun();

    expect(busy.stats.fetching_count).toBeGreaterThan(0);
    expect(busy.stats.fetching_count).toBeLessThanOrEqual(2);
    expect(Object.keys(midway).sort()).toEqual([...fetchable].sort());
    expect(Object.values(midway).every((e) => ["queued_metadata", "fetching_metadata", "done", "error"].includes(e.status))).toBe(true);
  });

  it("never undoes an import made during the run", async () => {
    const { imported, done } = await theRun();

    expect(imported).toBe(200);
    expect(done["juggernautXL_v9.safetensors"]).toEqual({ status: "done" });
    const files = (await readCatalog(stackInfo().studioDir, "models")).categories[0]!.models.map((m) => m.file);
    expect(files).toContain(extra.file);
  });

  it("ends each model done or with its error", async () => {
    await theRun();
    const { json } = await get<Record<string, { status: string; error?: string }>>("/api/admin/models/metadata-status");

    expect(json).toEqual({
      "juggernautXL_v9.safetensors": { status: "done" },
      "dreamshaper_8.safetensors": { status: "done" },
      "missing.safetensors": { status: "error", error: "HTTP 404" },
      "busy.safetensors": { status: "done" },
      "hanging.safetensors": { status: "error", error: "timed out after 2 s" },
      "flaky.safetensors": { status: "done" },
      "down.safetensors": { status: "error", error: "HTTP 503 from CivitAI" },
      "sd_xl_base_1.0.safetensors": { status: "done" },
      "flux1-dev.safetensors": {
        status: "error",
        error: expect.stringMatching(/^HTTP 401: the repo is gated or private: set HF_TOKEN and accept the licence at http:\/\/127\.0\.0\.1:\d+\/black-forest-labs\/FLUX\.1-dev$/),
      },
    });
  });

  it("writes CivitAI's facts into the entry and leaves every other field as it was", async () => {
    await theRun();
    const entries = (await readCatalog(stackInfo().studioDir, "models")).categories[0]!.models;
    const jugg = entries.find((m) => m.file === "juggernautXL_v9.safetensors");
    const locked = entries.find((m) => m.file === "dreamshaper_8.safetensors");

    expect(jugg).toEqual({
      ...models[0],
      name: "Juggernaut XL Jugg_IX_RunDiffusionPhoto_v2",
      base_model: "SDXL 1.0",
      trainedWords: [],
      civitai_model_id: 133005,
      civitai_version: "Jugg_IX_RunDiffusionPhoto_v2",
      civitai_type: "Checkpoint",
      civitai_tags: juggModel.tags,
      lastModified: "2024-05-02T10:11:12.000Z",
      size_gb: 6.46,
      sha256: juggVersion.files[0]!.hashes.SHA256.toLowerCase(),
    });
    expect(locked).toMatchObject({ name: "My DreamShaper", base_model: "SD 1.5", trainedWords: ["dreamshaper"], civitai_tags: ["anime", "art"] });
  });

  it("writes Hugging Face's date, size and checksum into the entry", async () => {
    await theRun();
    const entries = (await readCatalog(stackInfo().studioDir, "models")).categories[0]!.models;

    expect(entries.find((m) => m.file === "sd_xl_base_1.0.safetensors")).toEqual({
      ...models[5],
      lastModified: "2023-10-30T16:03:47.000Z",
      size_gb: 6.46,
      sha256: HF_SHA,
    });
    expect(entries.find((m) => m.file === "plain.pth")).toEqual(models.find((m) => m.file === "plain.pth"));
  });

  it("backs off on 429 as asked", async () => {
    await theRun();
    const calls = (await upstream().log()).filter((l) => l.path === "/api/v1/model-versions/777");

    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.time - calls[0]!.time).toBeGreaterThanOrEqual(950);
  });

  it("tries again after a reset connection or a 503, twice, and then gives up", async () => {
    await theRun();
    const log = await upstream().log();
    const flaky = log.filter((l) => l.path === "/api/v1/model-versions/555");
    const down = log.filter((l) => l.path === "/api/v1/model-versions/666");

    expect(flaky.map((c) => c.status).slice(1)).toEqual([503, 200]);
    expect(down.map((c) => c.status)).toEqual([503, 503, 503]);
    // DOWNLOAD_RETRY_BASE_MS is 100 here: waits of 100 ms and 200 ms, each jittered down to half at most
    expect(down[2]!.time - down[0]!.time).toBeGreaterThanOrEqual(150);
  });

  it("sends each credential to its own API only", async () => {
    await theRun();
    const log = (await upstream().log()).filter((l) => l.path.startsWith("/api/"));

    expect(log.filter((l) => l.path.startsWith("/api/v1/")).every((l) => l.authorization === `Bearer ${CIVITAI_API_KEY}`)).toBe(true);
    expect(log.filter((l) => l.path.startsWith("/api/models/")).every((l) => l.authorization === `Bearer ${HF_TOKEN}`)).toBe(true);
  });

  it("keeps an activity log a person can read, oldest first", async () => {
    await theRun();
    const { json } = await get<ActivityEntry[]>("/api/admin/activity-log");

    expect(json[0]).toEqual({ time: expect.stringMatching(/^\d\d:\d\d:\d\d$/), message: `Queued ${fetchable.length} models for metadata fetch`, level: "info" });
    expect(json).toContainEqual({ time: expect.any(String), message: "Fetching metadata for juggernautXL_v9.safetensors...", level: "info" });
    expect(json).toContainEqual({ time: expect.any(String), message: "OK -- juggernautXL_v9.safetensors: base_model=SDXL 1.0, +5 civitai_tags", level: "ok" });
    expect(json).toContainEqual({ time: expect.any(String), message: "ERROR -- missing.safetensors: HTTP 404", level: "error" });
    expect(json).toContainEqual({ time: expect.any(String), message: "ERROR -- down.safetensors: HTTP 503 from CivitAI", level: "error" });
    const fileOf = (message: string) => /^(?:OK|ERROR) -- ([^:]+):/.exec(message)?.[1];
    expect(new Set(json.filter((e) => e.level === "ok").map((e) => fileOf(e.message))).size).toBe(5);
    expect(new Set(json.filter((e) => e.level === "error").map((e) => fileOf(e.message))).size).toBe(4);
    // one run at a time: a model is never fetched twice at once
    const inFlight = new Set<string>();
    for (const { message } of json) {
      const fetching = /^Fetching metadata for (.+)\.\.\.$/.exec(message)?.[1];
      if (fetching) {
        expect(inFlight.has(fetching), fetching).toBe(false);
        inFlight.add(fetching);
      }
      const ended = fileOf(message);
      if (ended) inFlight.delete(ended);
    }
  });

  it("keeps the log across a sidecar restart", async () => {
    await theRun();
    const before = (await get<ActivityEntry[]>("/api/admin/activity-log")).json;
    const pids = [...(await stackLog()).matchAll(/sidecar started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    process.kill(pids.at(-1)!, "SIGKILL");
    await waitUntil(async () => {
      const again = [...(await stackLog()).matchAll(/sidecar started \(pid (\d+)\)/g)];
      return again.length > pids.length ? true : undefined;
    }, "the sidecar to come back", 20_000, 200);

    expect((await get<ActivityEntry[]>("/api/admin/activity-log")).json).toEqual(before);
  });

  it("never shows a credential in a response, the status file, the log or the activity log", async () => {
    await theRun();
    const everything = [...replies, JSON.stringify(await readStatusFile()), await stackLog()].join("\n");

    for (const secret of [HF_TOKEN, CIVITAI_API_KEY]) expect(everything).not.toContain(secret);
  });

  it("clears the activity log", async () => {
    const cleared = await call("POST", "/api/admin/activity-log/clear");
    const { json } = await get<ActivityEntry[]>("/api/admin/activity-log");

    expect(cleared.json).toEqual({ status: "cleared" });
    expect(json).toEqual([]);
  });

  it.each([
    ["POST", "/api/admin/models/fetch-metadata"],
    ["GET", "/api/admin/models/metadata-status"],
    ["GET", "/api/admin/activity-log"],
    ["POST", "/api/admin/activity-log/clear"],
  ])("refuses %s %s without the API key", async (method, path) => {
    const { status, json } = await call(method, path, { key: null });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });
});
