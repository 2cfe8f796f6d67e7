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
const placed = fast("on-disk.safetensors");
// in the catalog, never downloaded
const never = fast("never.safetensors");
const all = [slowA, slowB, slowC, slowD, fastA, fastB, placed, never];

interface Listing {
  stats: { queued_count: number; downloading_count: number; global_speed: number; daemon_running: boolean };
  categories: { models: { file: string; status: string }[] }[];
}

const cancel = (file: string) => call<{ status: string; file: string }>("DELETE", `/api/admin/models/${encodeURIComponent(file)}`);
const batch = (filenames: string[]) => call<{ queued: string[]; skipped: string[] }>("POST", "/api/admin/models/download-batch", { json: { filenames } });

const slows = [slowA, slowB, slowC, slowD];

/**
 * Each test sets up the downloads it needs, whatever ran before it: exactly `wanted` of the slow models
 * queued or downloading (queued in this order, those not already), every other slow one cancelled.
 */
async function onlyActive(wanted: typeof slows): Promise<void> {
  const downloads = (await readStatusFile()).downloads;
  const active = (c: (typeof slows)[number]) => ["queued", "downloading"].includes(downloads[c.model.file]?.status ?? "");
  await Promise.all(slows.filter((c) => !wanted.includes(c) && active(c)).map((c) => cancel(c.model.file)));
  const missing = wanted.filter((c) => !active(c)).map((c) => c.model.file);
  if (missing.length > 0) expect((await batch(missing)).json.queued).toEqual(missing);
}

/** A fast model on disk, downloaded through the service (its status entry says done), or not on disk. */
async function onDisk(model: { file: string; dest: string }): Promise<void> {
  if (await exists(modelFile(model))) return;
  await onlyActive([]); // not behind slow ones
  await queue(model.file);
  expect((await settled(model.file)).status).toBe("done");
}
async function notOnDisk(model: { file: string; dest: string }): Promise<void> {
  if (await exists(modelFile(model))) expect((await cancel(model.file)).status).toBe(200);
}

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
    await placeModel(stackInfo().modelsDir, placed.model);
  });

  it("queues a batch and skips the unknown, the present and the already queued", async () => {
    await notOnDisk(fastB.model);
    await queue(fastA.model.file);

    const { status, json } = await batch([fastA.model.file, fastB.model.file, "nope.safetensors", placed.model.file, fastB.model.file]);

    expect(status).toBe(200);
    expect(json.queued).toEqual([fastB.model.file]);
    // fast-a is queued, downloading or already on disk by now: skipped in every case
    expect(json.skipped.sort()).toEqual([fastA.model.file, "nope.safetensors", placed.model.file].sort());
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
    await onlyActive([]);
    const files = slows.map(({ model }) => model.file);

    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => batch([files[i % 4]!, files[(i + 1) % 4]!])));

    expect(replies.filter((r) => r.status !== 200).map((r) => [r.status, r.json])).toEqual([]);
    expect(replies.flatMap((r) => r.json.queued).sort()).toEqual([...files].sort());
    const status = await readStatusFile();
    expect(files.map((f) => status.downloads[f]?.status).every((s) => s === "queued" || s === "downloading")).toBe(true);
  });

  it("shows queued and downloading models, their counts and the total speed", async () => {
    await onlyActive(slows);
    const listing = await waitUntil(async () => {
      const { json } = await call<Listing>("GET", "/api/admin/models");
      return json.stats.downloading_count === 3 && json.stats.global_speed > 0 ? json : undefined;
    }, "three downloads in progress");

    expect(listing.stats.queued_count).toBe(1);
    expect(listing.stats.daemon_running).toBe(true);
    const statuses = Object.fromEntries(listing.categories[0]!.models.map((m) => [m.file, m.status]));
    expect(slows.map(({ model }) => statuses[model.file]).sort()).toEqual([
      "downloading",
      "downloading",
      "downloading",
      "queued",
    ]);
  });

  it("streams status events about a second apart", async () => {
    await onDisk(fastB.model);
    await onlyActive(slows);

    const { response, events } = await readEvents(10, "?max_seconds=2");

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(events.at(-1)).toMatchObject({ retry: 2000 });
    // one at once and one a second: two in two seconds, three if the last second's timer was a hair early.
    // Counted and spaced by the server's clock, not timed here: a loaded machine delays what arrives.
    const data = events.flatMap((e) => (e.data ? [e.data] : []));
    expect(data.length).toBeGreaterThanOrEqual(2);
    expect(data.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < data.length; i++) expect(data[i]!.timestamp - data[i - 1]!.timestamp).toBeGreaterThan(0.8);
    const last = data.at(-1)!;
    expect(Object.values(last.downloads).some((d) => d.status === "downloading" && d.percent > 0)).toBe(true);
    expect(last.downloads[fastB.model.file]).toMatchObject({ status: "done", percent: 100 });
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
    await onlyActive(slows);
    const { status, json } = await call<{ detail: string }>("DELETE", `/api/admin/models/${slowA.model.file}/catalog`);

    expect(status).toBe(409);
    expect(json.detail).toMatch(/being downloaded: cancel it first/);
  });

  it("cancels a running download within a second and removes its partial", async () => {
    await onlyActive(slows);
    // three run, one waits: the one cancelled here has written a partial; the waiting one is the reference
    const { running, waiting } = await waitUntil(async () => {
      const downloads = (await readStatusFile()).downloads;
      const [queued] = slows.filter((c) => downloads[c.model.file]?.status === "queued");
      const started = slows.filter((c) => downloads[c.model.file]?.status === "downloading");
      for (const c of started) if (queued && (await exists(`${modelFile(c.model)}.part`))) return { running: c.model, waiting: queued.model };
      return undefined;
    }, "a partial file and a queued download");

    // what a cancel costs on the API's side alone: a queued download is removed without the sidecar
    let started = Date.now();
    expect((await cancel(waiting.file)).status).toBe(200);
    const reference = Date.now() - started;
    started = Date.now();
    const { status, json } = await cancel(running.file);
    const took = Date.now() - started;

    expect(status).toBe(200);
    expect(json).toEqual({ status: "deleted", file: running.file });
    // the sidecar's share: it notices, stops and lets go within a second (the API gives it 5 s)
    expect(took - reference).toBeLessThan(1_000);
    expect(await exists(`${modelFile(running)}.part`)).toBe(false);
    expect(await exists(`${modelFile(running)}.part.json`)).toBe(false);
    expect(await exists(modelFile(running))).toBe(false);
    expect((await readStatusFile()).downloads[running.file]).toBeUndefined();
  });

  it("cancels queued and running downloads alike", async () => {
    await onlyActive(slows);
    await waitUntil(async () => ((await call<Listing>("GET", "/api/admin/models")).json.stats.downloading_count === 3 ? true : undefined), "three downloads running");

    const replies = await Promise.all(slows.map(({ model }) => cancel(model.file)));

    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const status = await readStatusFile();
    expect(slows.map(({ model }) => status.downloads[model.file])).toEqual([undefined, undefined, undefined, undefined]);
    const { json } = await call<Listing>("GET", "/api/admin/models");
    expect(json.stats.downloading_count + json.stats.queued_count).toBe(0);
  });

  it("deletes a file on disk and the model returns to not_downloaded, catalog entry kept", async () => {
    await onDisk(fastB.model);
    const { status, json } = await cancel(fastB.model.file);
    const listing = await call<Listing>("GET", "/api/admin/models");

    expect(status).toBe(200);
    expect(json).toEqual({ status: "deleted", file: fastB.model.file });
    expect(await exists(modelFile(fastB.model))).toBe(false);
    expect(listing.json.categories[0]!.models.find((m) => m.file === fastB.model.file)?.status).toBe("not_downloaded");
  });

  it("answers 404 for a model not on disk and for one not in the catalog", async () => {
    const notThere = await cancel(never.model.file);
    const unknown = await cancel("nonexistent.safetensors");

    expect(notThere.status).toBe(404);
    expect(notThere.json).toEqual({ detail: `Model '${never.model.file}' is not on disk` });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ detail: "Model 'nonexistent.safetensors' not found in catalog" });
  });
  it("streams at a path with a trailing slash too, and refuses HEAD as JSON", async () => {
    await onlyActive([]);
    const before = Date.now() / 1000;
    const { response, events } = await readEvents(10, "/?max_seconds=1");
    const head = await call("HEAD", "/api/admin/models/status");

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // the same stream as without the slash: the status now, then the end its max_seconds asked for
    const first = events[0]!.data!;
    expect(Object.keys(first.downloads).sort()).toEqual(Object.keys((await readStatusFile()).downloads).sort());
    expect(first.timestamp).toBeGreaterThanOrEqual(before - 1);
    expect(events.at(-1)).toMatchObject({ retry: 2000 });
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
