import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import { exists, modelFile, queue, readStatusFile, settled, stackInfo, upstream, urlEntry, useModels, waitUntil } from "../support/downloads";
import { placeModel } from "../support/catalogs";

const MiB = 1024 * 1024;

// slow enough to watch on a loaded machine: 24 MiB (one connection) at 1 MiB/s, so about 24 s; the tests
// cancel them long before that
const slow = (name: string) => ({
  spec: { id: `endpoints/${name}`, size: 24 * MiB, mode: "slow" as const, bytesPerSecond: 1 * MiB },
  model: urlEntry(`endpoints/${name}`, name, "checkpoints"),
});
const fast = (name: string) => ({ spec: { id: `endpoints/${name}`, size: 1 * MiB }, model: urlEntry(`endpoints/${name}`, name, "vae") });

const slowA = slow("slow-a.safetensors");
const slowB = slow("slow-b.safetensors");
const slowC = slow("slow-c.safetensors");
const slowD = slow("slow-d.safetensors");
const fastA = fast("fast-a.safetensors");
const fastB = fast("fast-b.safetensors");
const onDisk = fast("on-disk.safetensors");
const all = [slowA, slowB, slowC, slowD, fastA, fastB, onDisk];

interface Listing {
  stats: { queued_count: number; downloading_count: number; global_speed: number; daemon_running: boolean };
  categories: { models: { file: string; status: string }[] }[];
}

const cancel = (file: string) => call<{ status: string; file: string }>("DELETE", `/api/admin/models/${encodeURIComponent(file)}`);

/** Reads SSE events from the running stack, as a browser's fetch reader would. */
async function readEvents(count: number, query = "") {
  const { baseUrl, apiKey } = stackInfo();
  const response = await fetch(`${baseUrl}/api/admin/models/status${query}`, { headers: { "X-API-Key": apiKey } });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { at: number; data?: { downloads: Record<string, { status: string; percent: number }>; timestamp: number }; retry?: number }[] = [];
  let buffer = "";
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith("data: ")) events.push({ at: Date.now(), data: JSON.parse(block.slice(6)) });
      if (block.startsWith("retry: ")) events.push({ at: Date.now(), retry: Number(block.slice(7)) });
    }
  }
  await reader.cancel();
  return { response, events };
}

describe("the download endpoints", () => {
  beforeAll(async () => {
    const up = upstream();
    for (const { spec } of all) await up.register(spec);
    await useModels(all.map(({ model }) => model));
    await placeModel(stackInfo().modelsDir, onDisk.model);
  });

  it("queues a batch and skips the unknown, the present and the already queued", async () => {
    await queue(fastA.model.file);

    const { status, json } = await call<{ queued: string[]; skipped: string[] }>("POST", "/api/admin/models/download-batch", {
      json: { filenames: [fastA.model.file, fastB.model.file, "nope.safetensors", onDisk.model.file, fastB.model.file] },
    });

    expect(status).toBe(200);
    expect(json.queued).toEqual([fastB.model.file]);
    // fast-a is queued, downloading or already on disk by now: skipped in every case
    expect(json.skipped.sort()).toEqual([fastA.model.file, "nope.safetensors", onDisk.model.file].sort());
    expect((await settled(fastB.model.file)).status).toBe("done");
    await settled(fastA.model.file);
  });

  it.each([
    ["a string", { filenames: "a.safetensors" }],
    ["numbers", { filenames: [1, 2] }],
    ["nothing", {}],
  ])("answers 422 for filenames that are %s", async (_, body) => {
    const { status, json } = await call<{ detail: { loc: unknown[] }[] }>("POST", "/api/admin/models/download-batch", { json: body });

    expect(status).toBe(422);
    expect(json.detail[0]!.loc.slice(0, 2)).toEqual(["body", "filenames"]);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const { status, json } = await call<{ detail: string }>("POST", "/api/admin/models/download-batch", {
      body: "{filenames:",
      headers: { "Content-Type": "application/json" },
    });

    expect(status).toBe(400);
    expect(json.detail).toMatch(/^Invalid JSON: /);
  });

  it("queues each file exactly once under fifty concurrent overlapping batches", async () => {
    const files = [slowA, slowB, slowC, slowD].map(({ model }) => model.file);

    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call<{ queued: string[]; skipped: string[] }>("POST", "/api/admin/models/download-batch", {
          json: { filenames: [files[i % 4]!, files[(i + 1) % 4]!] },
        }),
      ),
    );

    expect(replies.filter((r) => r.status !== 200).map((r) => [r.status, r.json])).toEqual([]);
    expect(replies.flatMap((r) => r.json.queued).sort()).toEqual([...files].sort());
    const status = await readStatusFile();
    expect(files.map((f) => status.downloads[f]?.status).every((s) => s === "queued" || s === "downloading")).toBe(true);
  });

  it("shows queued and downloading models, their counts and the total speed", async () => {
    const listing = await waitUntil(async () => {
      const { json } = await call<Listing>("GET", "/api/admin/models");
      return json.stats.downloading_count === 3 && json.stats.global_speed > 0 ? json : undefined;
    }, "three downloads in progress");

    expect(listing.stats.queued_count).toBe(1);
    expect(listing.stats.daemon_running).toBe(true);
    const statuses = Object.fromEntries(listing.categories[0]!.models.map((m) => [m.file, m.status]));
    expect([slowA, slowB, slowC, slowD].map(({ model }) => statuses[model.file]).sort()).toEqual([
      "downloading",
      "downloading",
      "downloading",
      "queued",
    ]);
  });

  it("streams status events about a second apart", async () => {
    const { response, events } = await readEvents(3);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(events).toHaveLength(3);
    const [first, second, third] = events.map((e) => e.data!);
    expect(second!.timestamp - first!.timestamp).toBeGreaterThan(0.8);
    expect(second!.timestamp - first!.timestamp).toBeLessThan(1.5);
    expect(events[2]!.at - events[1]!.at).toBeGreaterThan(700);
    expect(Object.values(third!.downloads).some((d) => d.status === "downloading" && d.percent > 0)).toBe(true);
    expect(third!.downloads[fastB.model.file]).toMatchObject({ status: "done", percent: 100 });
  });

  it("ends a stream after its time with a retry hint", async () => {
    const { events } = await readEvents(10, "?max_seconds=2");

    expect(events.at(-1)).toMatchObject({ retry: 2000 });
    expect(events.filter((e) => e.data).length).toBeGreaterThanOrEqual(2);
  });

  it("refuses the stream without a key, as JSON", async () => {
    const { status, json } = await call("GET", "/api/admin/models/status", { key: null });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });

  it("refuses to remove a model from the catalog while it downloads", async () => {
    const { status, json } = await call<{ detail: string }>("DELETE", `/api/admin/models/${slowA.model.file}/catalog`);

    expect(status).toBe(409);
    expect(json.detail).toMatch(/being downloaded: cancel it first/);
  });

  it("cancels a running download within a second and removes its partial", async () => {
    const target = modelFile(slowA.model);
    await waitUntil(async () => ((await exists(`${target}.part`)) ? true : undefined), "a partial file");

    const started = Date.now();
    const { status, json } = await cancel(slowA.model.file);
    const took = Date.now() - started;

    expect(status).toBe(200);
    expect(json).toEqual({ status: "deleted", file: slowA.model.file });
    expect(took).toBeLessThan(1_500);
    expect(await exists(`${target}.part`)).toBe(false);
    expect(await exists(`${target}.part.json`)).toBe(false);
    expect(await exists(target)).toBe(false);
    expect((await readStatusFile()).downloads[slowA.model.file]).toBeUndefined();
  });

  it("cancels queued and running downloads alike", async () => {
    const replies = await Promise.all([slowB, slowC, slowD].map(({ model }) => cancel(model.file)));

    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const status = await readStatusFile();
    expect([slowB, slowC, slowD].map(({ model }) => status.downloads[model.file])).toEqual([undefined, undefined, undefined]);
    const { json } = await call<Listing>("GET", "/api/admin/models");
    expect(json.stats.downloading_count + json.stats.queued_count).toBe(0);
  });

  it("deletes a file on disk and the model returns to not_downloaded, catalog entry kept", async () => {
    const { status, json } = await cancel(fastB.model.file);
    const listing = await call<Listing>("GET", "/api/admin/models");

    expect(status).toBe(200);
    expect(json).toEqual({ status: "deleted", file: fastB.model.file });
    expect(await exists(modelFile(fastB.model))).toBe(false);
    expect(listing.json.categories[0]!.models.find((m) => m.file === fastB.model.file)?.status).toBe("not_downloaded");
  });

  it("answers 404 for a model not on disk and for one not in the catalog", async () => {
    const notOnDisk = await cancel(fastB.model.file);
    const unknown = await cancel("nonexistent.safetensors");

    expect(notOnDisk.status).toBe(404);
    expect(notOnDisk.json).toEqual({ detail: `Model '${fastB.model.file}' is not on disk` });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ detail: "Model 'nonexistent.safetensors' not found in catalog" });
  });
  it("streams at a path with a trailing slash too, and refuses HEAD as JSON", async () => {
    const { response, events } = await readEvents(1, "/?max_seconds=1");
    const head = await call("HEAD", "/api/admin/models/status");

    expect(response.status).toBe(200);
    expect(events[0]!.data).toBeDefined();
    expect(head.status).toBe(405);
  });

  it("refuses a chunked body over 10 MB with 413", async () => {
    const { baseUrl, apiKey } = stackInfo();
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 11) controller.enqueue(chunk);
        else controller.close();
      },
    });

    const response = await fetch(`${baseUrl}/api/admin/models/download-batch`, {
      method: "POST",
      headers: { "X-API-Key": apiKey, "Content-Type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);

    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ detail: "Request body is larger than 10 MB" });
  });
});
