import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import { modelFile, queue, readStatusFile, settled, stackLog, upstream, urlEntry, useModels, waitUntil } from "../support/downloads";

const MiB = 1024 * 1024;

/** The pid of the sidecar that runs now, from its own start-up line. */
async function sidecarPid(): Promise<number> {
  const pids = [...(await stackLog()).matchAll(/sidecar started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  return pids.at(-1)!;
}

// 64 MiB over 4 connections at 4 MiB/s each: about 4 s, long enough to kill the sidecar on the way
const spec = { id: "restart/juggernautXL_v9.safetensors", size: 64 * MiB, mode: "slow" as const, bytesPerSecond: 4 * MiB };
const model = urlEntry(spec.id, "juggernautXL_v9.safetensors", "checkpoints");
// only has to be queued when the sidecar dies, and downloaded by the next one
const waitingSpec = { id: "restart/waiting.safetensors", size: 8 * MiB };
const waiting = urlEntry(waitingSpec.id, "waiting_for_a_sidecar.safetensors", "checkpoints");

// paused on the way (4 connections at 1 MiB/s each), then the sidecar is killed
const pausedSpec = { id: "restart/paused.safetensors", size: 16 * MiB, bytesPerSecond: 1 * MiB };
const pausedModel = urlEntry(pausedSpec.id, "paused_across_a_kill.safetensors", "checkpoints");

const digest = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

describe("a sidecar that dies", () => {
  let sha256: string;
  let waitingSha256: string;
  let pausedSha256: string;

  beforeAll(async () => {
    sha256 = (await upstream().register(spec)).sha256;
    waitingSha256 = (await upstream().register(waitingSpec)).sha256;
    pausedSha256 = (await upstream().register(pausedSpec)).sha256;
    await useModels([model, waiting, pausedModel]);
  });

  it("is restarted and finishes a download killed with SIGKILL without fetching it again", async () => {
    const target = modelFile(model);
    const first = await sidecarPid();
    await queue(model.file);
    await waitUntil(async () => {
      const entry = (await readStatusFile()).downloads[model.file];
      return entry && entry.bytes_downloaded > 32 * MiB ? entry : undefined;
    }, "half of the download");

    process.kill(first, "SIGKILL");
    // what sits under the final name while the download is not done: only ever the whole file
    const underFinalName: number[] = [];
    const entry = await waitUntil(
      async () => {
        const current = (await readStatusFile()).downloads[model.file];
        const size = (await stat(target).catch(() => undefined))?.size;
        if (current?.status !== "done" && size !== undefined) underFinalName.push(size);
        return current?.status === "done" || current?.status === "error" ? current : undefined;
      },
      "the download to finish after the restart",
      40_000,
    );
    const second = await sidecarPid();

    expect(second).not.toBe(first);
    expect(entry.status).toBe("done");
    expect(await digest(target)).toBe(sha256);
    // resumed from the partial (a crash costs at most a second of progress): far less than twice the file went over the wire
    expect((await upstream().stats(spec.id)).bytesSent).toBeLessThan(spec.size * 1.4);
    // a partial never sits under the final name
    expect(underFinalName.every((size) => size === spec.size)).toBe(true);
    expect(await stackLog()).toMatch(/resuming 1 interrupted download\(s\): juggernautXL_v9\.safetensors/);
  });

  it("is reported as not running while it does not beat", async () => {
    const pid = await sidecarPid();
    process.kill(pid, "SIGSTOP");
    try {
      const stopped = await waitUntil(async () => {
        const { json } = await call<{ stats: { daemon_running: boolean } }>("GET", "/api/admin/models");
        return json.stats.daemon_running ? undefined : json;
      }, "daemon_running to turn false", 15_000, 250);
      expect(stopped.stats.daemon_running).toBe(false);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const back = await waitUntil(async () => {
      const { json } = await call<{ stats: { daemon_running: boolean } }>("GET", "/api/admin/models");
      return json.stats.daemon_running ? json : undefined;
    }, "daemon_running to turn true again");
    expect(back.stats.daemon_running).toBe(true);
  });

  it("keeps a queued download queued across a restart, and the next sidecar downloads it whole", async () => {
    const pid = await sidecarPid();
    // stopped, the sidecar cannot start the download: it is queued, and still is when the sidecar dies
    process.kill(pid, "SIGSTOP");
    let queued: unknown;
    try {
      expect((await queue(waiting.file)).json).toEqual({ status: "queued", file: waiting.file });
      queued = (await readStatusFile()).downloads[waiting.file]?.status;
    } finally {
      process.kill(pid, "SIGKILL");
    }
    const entry = await settled(waiting.file, 40_000);

    expect(queued).toBe("queued");
    expect(await sidecarPid()).not.toBe(pid);
    expect(entry.status).toBe("done");
    expect(await digest(modelFile(waiting))).toBe(waitingSha256);
  });

  it("keeps a paused download paused across a SIGKILL, and resumed it fetches only what is missing", async () => {
    await queue(pausedModel.file);
    await waitUntil(async () => ((await readStatusFile()).downloads[pausedModel.file]?.bytes_downloaded ?? 0) > 4 * MiB || undefined, "a quarter of it");
    const paused = await call("POST", `/api/admin/models/download/${pausedModel.file}/pause`);
    const sent = (await upstream().stats(pausedSpec.id)).bytesSent;
    const pid = await sidecarPid();

    process.kill(pid, "SIGKILL");
    await waitUntil(async () => (await sidecarPid()) !== pid || undefined, "the next sidecar", 20_000);
    // the next sidecar has recovered and looked at the queue a few times
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = (await readStatusFile()).downloads[pausedModel.file];

    expect(paused.status).toBe(200);
    expect(after?.status).toBe("paused");
    expect(after!.bytes_downloaded).toBeGreaterThan(4 * MiB);
    expect((await upstream().stats(pausedSpec.id)).bytesSent).toBe(sent);
    expect((await stat(`${modelFile(pausedModel)}.part`)).size).toBeGreaterThan(0);

    expect((await call("POST", `/api/admin/models/download/${pausedModel.file}/resume`)).status).toBe(200);
    expect((await settled(pausedModel.file, 20_000)).status).toBe("done");
    expect(await digest(modelFile(pausedModel))).toBe(pausedSha256);
    expect((await upstream().stats(pausedSpec.id)).bytesSent).toBeLessThanOrEqual(pausedSpec.size * 1.01);
  });
});
