import { mkdir } from "node:fs/promises";
import { beforeEach, describe, expect, it } from "vitest";
import { readStatus, updateStatus, type VolumeJob } from "../../../lib/state/status";
import { heartbeatWriter } from "../../../lib/state/heartbeat";
import { cancelJob, jobProgress, startJob, startVerify } from "../../../lib/volume/request";
import { VolumeWorker } from "../../../lib/volume/worker";
import { catalogDoc, category, model, rejection, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

beforeEach(async () => {
  await mkdir(studio().config.stateDir, { recursive: true });
});

const setJob = (name: "identify" | "verify", job: VolumeJob) =>
  updateStatus(studio().config, (status) => {
    status[name] = job;
    return { result: undefined, changed: true };
  });

const running = (extra: Partial<VolumeJob> = {}): VolumeJob => ({ status: "running", requested_at: 1, hashed: 3, total: 10, matched: 1, ...extra });

describe("an identify or verify asked for", () => {
  it("is idle before any", async () => {
    expect(await jobProgress(studio().config, "identify")).toEqual({ status: "idle", hashed: 0, total: 0, matched: 0 });
    expect(await jobProgress(studio().config, "verify")).toEqual({ status: "idle", hashed: 0, total: 0, verified: 0, damaged: 0 });
  });

  it("is queued for the sidecar, and shows as running", async () => {
    expect(await startJob(studio().config, "identify")).toEqual({ status: "running", hashed: 0, total: 0, matched: 0 });
    expect((await readStatus(studio().config)).identify).toMatchObject({ status: "queued", requested_at: expect.any(Number) });
  });

  it("starts nothing new while one runs: the answer is its progress", async () => {
    await setJob("identify", running());

    expect(await startJob(studio().config, "identify")).toEqual({ status: "running", hashed: 3, total: 10, matched: 1 });
    expect((await readStatus(studio().config)).identify?.requested_at).toBe(1);
  });

  it("replaces the last finished run", async () => {
    await setJob("verify", { status: "error", requested_at: 1, hashed: 0, total: 0, error: "HTTP 500" });

    await startJob(studio().config, "verify");

    expect((await readStatus(studio().config)).verify).toMatchObject({ status: "queued", verified: 0, damaged: 0 });
    expect((await readStatus(studio().config)).verify).not.toHaveProperty("error");
  });

  it("shows an error with its message", async () => {
    await setJob("identify", { status: "error", requested_at: 1, hashed: 4, total: 4, matched: 0, error: "HTTP 503 from CivitAI" });

    expect(await jobProgress(studio().config, "identify")).toEqual({ status: "error", hashed: 4, total: 4, matched: 0, error: "HTTP 503 from CivitAI" });
  });

  it("refuses to verify a file no catalog has, naming it", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("c", [model("a.safetensors")])]));

    const error = await rejection(startVerify(studio(), ["a.safetensors", "nope.safetensors"]));

    expect(error.message).toBe("Not in either catalog: 'nope.safetensors'");
    expect((await readStatus(studio().config)).verify).toBeUndefined();
  });
});

describe("a cancel", () => {
  it("ends a queued run at once", async () => {
    await startJob(studio().config, "identify");

    expect(await cancelJob(studio().config, "identify")).toEqual({ status: "done", hashed: 0, total: 0, matched: 0, cancelled: true });
  });

  it("ends a running run whose sidecar is gone", async () => {
    await setJob("verify", running({ matched: undefined, verified: 2, damaged: 0 }));

    expect(await cancelJob(studio().config, "verify")).toEqual({ status: "done", hashed: 3, total: 10, verified: 2, damaged: 0, cancelled: true });
  });

  it("asks a live sidecar to stop, and answers once it has", async () => {
    const { beat } = heartbeatWriter(studio().config.stateDir);
    await beat();
    await setJob("identify", running());
    // the sidecar: sees the cancel a moment later and ends the run
    const sidecar = (async () => {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const job = (await readStatus(studio().config)).identify;
        if (!job?.cancel) continue;
        await setJob("identify", { ...job, status: "done", cancelled: true, cancel: undefined } as VolumeJob);
        return;
      }
    })();

    const answer = await cancelJob(studio().config, "identify");
    await sidecar;

    expect(answer).toEqual({ status: "done", hashed: 3, total: 10, matched: 1, cancelled: true });
  });

  it("of nothing running changes nothing", async () => {
    await setJob("identify", { status: "done", requested_at: 1, hashed: 2, total: 2, matched: 2 });

    expect(await cancelJob(studio().config, "identify")).toEqual({ status: "done", hashed: 2, total: 2, matched: 2 });
  });
});

describe("the sidecar after a crash", () => {
  it("queues a run that was running again, and grants a cancel asked of the sidecar that died", async () => {
    await setJob("identify", running());
    await setJob("verify", running({ matched: undefined, cancel: true }));

    await new VolumeWorker(studio(), () => undefined).recover();

    const status = await readStatus(studio().config);
    expect(status.identify?.status).toBe("queued");
    expect(status.verify).toMatchObject({ status: "done", cancelled: true });
    expect(status.verify).not.toHaveProperty("cancel");
  });
});
