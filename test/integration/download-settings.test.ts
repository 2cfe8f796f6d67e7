/**
 * The live download settings on the running stack: GET and PUT /api/admin/downloads/settings, 422s, the
 * listing's cap, a lowered max_concurrent (holds new starts, stops nothing) and connections_per_file raised
 * under a running download (its range GETs to the stand-in, counted). Other files share this stack: each
 * test puts the settings back as they were.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import { queue, readStatusFile, upstream, urlEntry, useModels, waitUntil } from "../support/downloads";

const MiB = 1024 * 1024;

interface Settings {
  max_bytes_per_second: number | null;
  max_concurrent: number;
  connections_per_file: number;
}

const SETTINGS = "/api/admin/downloads/settings";
const put = (json: unknown) => call<Settings & { detail?: unknown }>("PUT", SETTINGS, { json });
const cancel = (file: string) => call("DELETE", `/api/admin/models/${encodeURIComponent(file)}`);

// throttled per connection, as a CDN does: the governor wants every connection it may have
const slow = (name: string, size = 48 * MiB) => ({
  spec: { id: `settings/${name}`, size, bytesPerSecond: 1 * MiB },
  model: urlEntry(`settings/${name}`, name, "checkpoints"),
});
const held = [slow("held-a.safetensors"), slow("held-b.safetensors"), slow("held-c.safetensors")];
const widened = slow("widened.safetensors", 96 * MiB);

let before: Settings;

beforeAll(async () => {
  before = (await call<Settings>("GET", SETTINGS)).json;
  for (const { spec } of [...held, widened]) await upstream().register(spec);
  await useModels([...held, widened].map((c) => c.model));
});

afterEach(async () => {
  for (const { model } of [...held, widened]) await cancel(model.file);
  expect((await put(before)).json).toEqual(before);
});

/** The stand-in's GETs of `id` still streaming now. */
async function openGets(id: string): Promise<number> {
  return (await upstream().log()).filter((entry) => entry.method === "GET" && entry.fileId === id && !entry.finished && !entry.aborted).length;
}

describe("GET and PUT /api/admin/downloads/settings", () => {
  it("answers the settings, changes what a PUT names, keeps the rest, and shows the cap in the listing", async () => {
    const got = await call<Settings>("GET", SETTINGS);
    expect(got.status).toBe(200);
    expect(Object.keys(got.json).sort()).toEqual(["connections_per_file", "max_bytes_per_second", "max_concurrent"]);

    const changed = await put({ max_bytes_per_second: 5_000_000, max_concurrent: 2 });

    expect(changed.status).toBe(200);
    expect(changed.json).toEqual({ ...got.json, max_bytes_per_second: 5_000_000, max_concurrent: 2 });
    expect((await call<Settings>("GET", SETTINGS)).json).toEqual(changed.json);
    const listing = await call<{ stats: { max_bytes_per_second: number | null } }>("GET", "/api/admin/models");
    expect(listing.json.stats.max_bytes_per_second).toBe(5_000_000);
    expect((await put({ max_bytes_per_second: null })).json.max_bytes_per_second).toBeNull();
  });

  it.each([
    { max_concurrent: 0 },
    { max_concurrent: 33 },
    { connections_per_file: 0 },
    { connections_per_file: 33 },
    { max_bytes_per_second: 0 },
    { max_bytes_per_second: 1024 },
    { max_bytes_per_second: "fast" },
    { max_parallel: 2 },
  ])("refuses %j with 422 {detail} and changes nothing", async (body) => {
    const was = (await call<Settings>("GET", SETTINGS)).json;

    const reply = await put(body);

    expect(reply.status).toBe(422);
    expect(reply.json.detail).toBeDefined();
    expect((await call<Settings>("GET", SETTINGS)).json).toEqual(was);
  });
});

describe("the settings reach the sidecar while it runs", () => {
  it("a lowered max_concurrent holds new starts and stops nothing that runs", async () => {
    await put({ max_concurrent: 3, connections_per_file: 1 });
    const [a, b, c] = held.map((h) => h.model.file) as [string, string, string];
    await queue(a);
    await queue(b);
    await waitUntil(async () => {
      const d = (await readStatusFile()).downloads;
      return d[a]?.status === "downloading" && d[b]?.status === "downloading" && d[a].bytes_downloaded > 0 ? true : undefined;
    }, "two downloads running");

    expect((await put({ max_concurrent: 1 })).status).toBe(200);
    // past the sidecar's next tick, which reads the settings
    await new Promise((resolve) => setTimeout(resolve, 300));
    await queue(c);
    const first = (await readStatusFile()).downloads;
    // a second and a half: six ticks of the sidecar, four progress writes
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const then = (await readStatusFile()).downloads;

    expect([then[a]?.status, then[b]?.status, then[c]?.status]).toEqual(["downloading", "downloading", "queued"]);
    expect(then[a]!.bytes_downloaded).toBeGreaterThan(first[a]!.bytes_downloaded);
    expect(then[b]!.bytes_downloaded).toBeGreaterThan(first[b]!.bytes_downloaded);
    // once one finishes or is cancelled, still only one runs at a time
    await cancel(a);
    await cancel(b);
    await waitUntil(async () => ((await readStatusFile()).downloads[c]?.status === "downloading" ? true : undefined), `${c} to start`, 5_000);
  });

  it("connections_per_file raised, then lowered, under a running download reaches it within 2 s", async () => {
    await put({ connections_per_file: 1 });
    await upstream().clearLog();
    await queue(widened.model.file);
    await waitUntil(async () => ((await readStatusFile()).downloads[widened.model.file]?.bytes_downloaded ?? 0) > MiB || undefined, "the download to move");
    // held at one connection, though each one is throttled
    for (let i = 0; i < 5; i += 1) {
      expect(await openGets(widened.spec.id)).toBeLessThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const raised = Date.now();
    expect((await put({ connections_per_file: 4 })).status).toBe(200);
    await waitUntil(async () => ((await openGets(widened.spec.id)) >= 4 ? true : undefined), "4 range GETs at once", 5_000, 50);

    expect(Date.now() - raised).toBeLessThanOrEqual(2_000);

    // and lowered: the connections over it stop mid-piece, the rest of their pieces left to the one that stays
    const lowered = Date.now();
    expect((await put({ connections_per_file: 1 })).status).toBe(200);
    await waitUntil(async () => ((await openGets(widened.spec.id)) <= 1 ? true : undefined), "1 range GET at once", 5_000, 50);

    expect(Date.now() - lowered).toBeLessThanOrEqual(2_000);
    const bytes = (await readStatusFile()).downloads[widened.model.file]!.bytes_downloaded;
    await waitUntil(async () => ((await readStatusFile()).downloads[widened.model.file]!.bytes_downloaded > bytes ? true : undefined), "the download to go on", 5_000);
    expect((await readStatusFile()).downloads[widened.model.file]!.status).toBe("downloading");
  });
});
