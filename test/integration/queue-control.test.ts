import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import { modelFile, queue, readStatusFile, settled, upstream, urlEntry, useModels, waitUntil } from "../support/downloads";

const MiB = 1024 * 1024;

type Entry = { status: string; bytes_downloaded: number; queue_position?: number };
type Listing = { categories: { models: { file: string; status: string; queue_position?: number }[] }[] };

// 24 MiB over the stack's 4 connections at 2 MiB/s each: about 3 s, time enough to pause it on the way
const bigSpec = { id: "queue/big.safetensors", size: 24 * MiB, bytesPerSecond: 2 * MiB };
const big = urlEntry(bigSpec.id, "queue_big.safetensors", "checkpoints");
// three that hold the stack's 3 download slots (MAX_CONCURRENT_DOWNLOADS, test/support/stack.ts) a few seconds
const holderSpecs = [1, 2, 3].map((n) => ({ id: `queue/holder${n}.safetensors`, size: 16 * MiB, bytesPerSecond: 1 * MiB }));
const holders = holderSpecs.map((spec, n) => urlEntry(spec.id, `queue_holder${n + 1}.safetensors`, "checkpoints"));
// and two that wait behind them, each running about 2 s once started
const smallSpecs = [1, 2].map((n) => ({ id: `queue/small${n}.safetensors`, size: 8 * MiB, bytesPerSecond: 1 * MiB }));
const [first, second] = smallSpecs.map((spec, n) => urlEntry(spec.id, `queue_small${n + 1}.safetensors`, "checkpoints"));

const post = <T>(path: string, json?: unknown) => call<T>("POST", path, json === undefined ? {} : { json });
const pause = (file: string) => post<{ status: string; file: string; detail?: string }>(`/api/admin/models/download/${file}/pause`);
const resume = (file: string) => post<{ status: string; file: string; detail?: string }>(`/api/admin/models/download/${file}/resume`);
const move = (file: string, position: unknown) => post<{ file: string; queue_position: number; detail?: unknown }>(`/api/admin/models/download/${file}/move`, { position });
const entryOf = async (file: string) => (await readStatusFile()).downloads[file] as Entry | undefined;
const statusOf = async (file: string) => (await entryOf(file))?.status;

/** The first event of the status stream. */
async function streamed(): Promise<Record<string, Entry>> {
  const { text } = await call("GET", "/api/admin/models/status?max_seconds=1");
  const data = text.split("\n").find((line) => line.startsWith("data: "))!;
  return (JSON.parse(data.slice("data: ".length)) as { downloads: Record<string, Entry> }).downloads;
}

async function listed(): Promise<Map<string, { status: string; queue_position?: number }>> {
  const { json } = await call<Listing>("GET", "/api/admin/models");
  return new Map(json.categories.flatMap((c) => c.models).map((m) => [m.file, m]));
}

const digest = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

describe("the queue in the user's hands", () => {
  const sums = new Map<string, string>();

  beforeAll(async () => {
    for (const spec of [bigSpec, ...holderSpecs, ...smallSpecs]) sums.set(spec.id, (await upstream().register(spec)).sha256);
    await useModels([big, ...holders, first!, second!]);
  });

  it("pauses a running download within a second, keeps its partial, and resumes it fetching only what is missing", async () => {
    await queue(big.file);
    await waitUntil(async () => ((await entryOf(big.file))?.bytes_downloaded ?? 0) > 6 * MiB || undefined, "a quarter of the download");

    const asked = Date.now();
    const paused = await pause(big.file);
    const took = Date.now() - asked;
    const sentAtPause = (await upstream().stats(bigSpec.id)).bytesSent;
    await new Promise((resolve) => setTimeout(resolve, 700));
    const sentLater = (await upstream().stats(bigSpec.id)).bytesSent;
    const entry = (await entryOf(big.file))!;
    const partial = (await stat(`${modelFile(big)}.part`)).size;
    const again = await pause(big.file);
    const listing = await listed();

    expect(paused).toMatchObject({ status: 200, json: { status: "paused", file: big.file } });
    expect(took).toBeLessThan(1_500);
    // stopped: nothing more goes over the wire, and the bytes done stay recorded beside the partial
    expect(sentLater).toBe(sentAtPause);
    expect(entry).toMatchObject({ status: "paused", speed: 0 });
    expect(entry.bytes_downloaded).toBeGreaterThan(6 * MiB);
    expect(partial).toBeGreaterThan(0);
    expect(again.status).toBe(409);
    expect(again.json.detail).toMatch(/already paused/);
    expect(listing.get(big.file)).toMatchObject({ status: "paused", queue_position: 0 });

    expect(await resume(big.file)).toMatchObject({ status: 200, json: { status: "queued", file: big.file } });
    await waitUntil(async () => (await statusOf(big.file)) === "downloading" || undefined, "the resumed download to start");
    const running = await resume(big.file);
    const done = await settled(big.file, 20_000);
    const late = await pause(big.file);

    expect(running.status).toBe(409);
    expect(running.json.detail).toMatch(/already running/);
    expect(done.status).toBe("done");
    expect(await digest(modelFile(big))).toBe(sums.get(bigSpec.id));
    // fetched once, give or take 1%: a pause saves the progress, so the resumed download starts where it stopped
    expect((await upstream().stats(bigSpec.id)).bytesSent).toBeLessThanOrEqual(bigSpec.size * 1.01);
    expect(late.status).toBe(409);
    expect(late.json.detail).toMatch(/has finished/);
  });

  it("answers 404 for a model with no download, and 422 for a bad position", async () => {
    const none = await pause(first!.file);
    const resumeNone = await resume(first!.file);
    const badPosition = await Promise.all([move(first!.file, -1), move(first!.file, 1.5), move(first!.file, "0")]);

    expect(none.status).toBe(404);
    expect(none.json.detail).toMatch(/has no download/);
    expect(resumeNone.status).toBe(404);
    expect(badPosition.map((reply) => reply.status)).toEqual([422, 422, 422]);
  });

  it("starts the queue in its order: a move changes which starts next, and pause-all and resume-all take all of it", async () => {
    for (const holder of holders) await queue(holder.file);
    await waitUntil(async () => (await Promise.all(holders.map((h) => statusOf(h.file)))).every((s) => s === "downloading") || undefined, "the holders to run");
    await queue(first!.file);
    await queue(second!.file);

    const moved = await move(second!.file, 0);
    const running = await move(holders[0]!.file, 0);
    const events = await streamed();
    const listing = await listed();

    expect(moved).toMatchObject({ status: 200, json: { file: second!.file, queue_position: 0 } });
    expect(running.status).toBe(409);
    expect(events[second!.file]).toMatchObject({ status: "queued", queue_position: 0 });
    expect(events[first!.file]).toMatchObject({ status: "queued", queue_position: 1 });
    expect(events[holders[0]!.file]).not.toHaveProperty("queue_position");
    expect(listing.get(second!.file)).toMatchObject({ status: "queued", queue_position: 0 });
    expect(listing.get(first!.file)).toMatchObject({ status: "queued", queue_position: 1 });

    // a slot frees: the one moved first starts, the other keeps waiting
    await pause(holders[0]!.file);
    await waitUntil(async () => (await statusOf(second!.file)) !== "queued" || undefined, "the moved one to start");
    expect(await statusOf(first!.file)).toBe("queued");

    const all = await post<{ paused: string[] }>("/api/admin/downloads/pause-all");
    const statuses = await Promise.all([...holders, first!, second!].map((m) => statusOf(m.file)));

    expect(all.status).toBe(200);
    expect(all.json.paused.sort()).toEqual([holders[1]!.file, holders[2]!.file, first!.file, second!.file].sort());
    expect(all.json.paused).not.toContain(holders[0]!.file);
    expect(statuses).toEqual(["paused", "paused", "paused", "paused", "paused"]);

    const back = await post<{ resumed: string[] }>("/api/admin/downloads/resume-all");

    expect(back.status).toBe(200);
    expect(back.json.resumed.sort()).toEqual([...holders.map((h) => h.file), first!.file, second!.file].sort());
    for (const model of [...holders, first!, second!]) expect((await settled(model.file, 20_000)).status).toBe("done");
    for (const [n, spec] of holderSpecs.entries()) expect(await digest(modelFile(holders[n]!))).toBe(sums.get(spec.id));
  });
});
