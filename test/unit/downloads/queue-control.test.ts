import { describe, expect, it } from "vitest";
import * as control from "../../../lib/downloads/queue-control";
import * as request from "../../../lib/downloads/request";
import { downloadsEvent } from "../../../lib/downloads/status-stream";
import { DownloadQueue } from "../../../lib/downloads/worker";
import { ConflictError, NotFoundError } from "../../../lib/errors";
import * as state from "../../../lib/state/status";
import { rejection } from "../helpers";
import { exists, useDownloadsStudio } from "./request-fixture";

const { studio, target, plantPartial, downloads, plantEntry } = useDownloadsStudio();
const config = () => studio().config;

/** Queues `files` through the API, in their order. */
const queueAll = async (...files: string[]) => {
  for (const file of files) await request.queueDownload(studio(), file);
};

const order = async () => state.queueOrder({ downloads: await downloads() });

describe("pause and resume of a queued download", () => {
  it("pauses it at once, keeping its place, and resumes it there", async () => {
    await queueAll("a.safetensors", "b.safetensors", "c.safetensors");

    expect(await control.pauseDownload(config(), "b.safetensors")).toEqual({ status: "paused", file: "b.safetensors" });
    expect((await downloads())["b.safetensors"]).toMatchObject({ status: "paused", seq: 2, speed: 0 });
    expect(await order()).toEqual(["a.safetensors", "b.safetensors", "c.safetensors"]);

    expect(await control.resumeDownload(config(), "b.safetensors")).toEqual({ status: "queued", file: "b.safetensors" });
    expect((await downloads())["b.safetensors"]).toMatchObject({ status: "queued", seq: 2 });
  });

  it("refuses what makes no sense with a reason (409), and a file with no download (404)", async () => {
    await queueAll("a.safetensors");
    await plantEntry("d.safetensors", { status: "done", seq: 4 });
    await plantEntry("e.safetensors", { status: "error", seq: 5, error: "boom" });

    const resumeQueued = await rejection(control.resumeDownload(config(), "a.safetensors"));
    await control.pauseDownload(config(), "a.safetensors");
    const pauseTwice = await rejection(control.pauseDownload(config(), "a.safetensors"));
    const pauseDone = await rejection(control.pauseDownload(config(), "d.safetensors"));
    const pauseFailed = await rejection(control.pauseDownload(config(), "e.safetensors"));
    const none = await rejection(control.pauseDownload(config(), "b.safetensors"));
    const resumeNone = await rejection(control.resumeDownload(config(), "b.safetensors"));

    expect(resumeQueued).toBeInstanceOf(ConflictError);
    expect(resumeQueued.message).toMatch(/already queued/);
    expect(pauseTwice.message).toMatch(/already paused/);
    expect(pauseDone.message).toMatch(/has finished/);
    expect(pauseFailed.message).toMatch(/failed: download it again/);
    expect([pauseTwice, pauseDone, pauseFailed].every((error) => error instanceof ConflictError)).toBe(true);
    expect(none).toBeInstanceOf(NotFoundError);
    expect(resumeNone).toBeInstanceOf(NotFoundError);
  });

  it("refuses to resume a running download (409)", async () => {
    await plantEntry("a.safetensors", { status: "downloading" }, 0);

    const error = await rejection(control.resumeDownload(config(), "a.safetensors"));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(/already running/);
  });

  it("resumes a paused download asked for again (POST download), at its place, and in a batch", async () => {
    await queueAll("a.safetensors", "b.safetensors", "c.safetensors");
    await control.pauseDownload(config(), "a.safetensors");
    await control.pauseDownload(config(), "b.safetensors");

    expect(await request.queueDownload(studio(), "a.safetensors")).toEqual({ status: "queued", file: "a.safetensors" });
    const batch = await request.queueBatch(studio(), ["b.safetensors", "c.safetensors"]);

    expect(batch).toEqual({ queued: ["b.safetensors"], skipped: ["c.safetensors"] });
    expect(Object.values(await downloads()).map((entry) => [entry.status, entry.seq])).toEqual([
      ["queued", 1],
      ["queued", 2],
      ["queued", 3],
    ]);
  });
});

describe("pause of a running download", () => {
  it("asks the sidecar, waits until it has paused it, and keeps the bytes done", async () => {
    await plantEntry("a.safetensors", { status: "downloading", seq: 7 }, 0);

    const answer = control.pauseDownload(config(), "a.safetensors");
    // the sidecar's side: it sees the flag, stops the run, keeps the partial
    for (;;) {
      if ((await downloads())["a.safetensors"]?.pause) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await control.settlePause(config(), "a.safetensors", 40)).toBe(true);

    expect(await answer).toEqual({ status: "paused", file: "a.safetensors" });
    const entry = (await downloads())["a.safetensors"]!;
    expect(entry).toMatchObject({ status: "paused", bytes_downloaded: 40, bytes_total: 100, percent: 40, speed: 0, seq: 7 });
    expect(entry.pause).toBeUndefined();
  });

  it("pauses an orphaned one (no sidecar alive) at once", async () => {
    await plantEntry("a.safetensors", { status: "downloading" }, 60_000);

    expect(await control.pauseDownload(config(), "a.safetensors")).toEqual({ status: "paused", file: "a.safetensors" });
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "paused", bytes_downloaded: 10 });
  });

  it("gives way to a cancel that came meanwhile: the sidecar drops it", async () => {
    await plantEntry("a.safetensors", { status: "downloading", pause: true, cancel: true }, 0);

    expect(await control.settlePause(config(), "a.safetensors", 40)).toBe(false);
    expect((await downloads())["a.safetensors"]).toMatchObject({ status: "downloading", cancel: true });
  });
});

describe("pause-all and resume-all", () => {
  it("pause every queued and running download and resume the paused ones, in queue order", async () => {
    await queueAll("b.safetensors", "c.safetensors");
    await plantEntry("a.safetensors", { status: "downloading", seq: 0 }, 60_000);
    await plantEntry("d.safetensors", { status: "done", seq: 9 });

    expect(await control.pauseAll(config())).toEqual({ paused: ["a.safetensors", "b.safetensors", "c.safetensors"] });
    expect(await control.pauseAll(config())).toEqual({ paused: [] });
    expect((await downloads())["d.safetensors"]?.status).toBe("done");

    expect(await control.resumeAll(config())).toEqual({ resumed: ["a.safetensors", "b.safetensors", "c.safetensors"] });
    expect(Object.values(await downloads()).filter((entry) => entry.status === "queued")).toHaveLength(3);
  });
});

describe("move", () => {
  it("puts a queued or paused download at a place of the queue (0 first, past the end last)", async () => {
    await queueAll("a.safetensors", "b.safetensors", "c.safetensors", "d.safetensors");
    await control.pauseDownload(config(), "b.safetensors");

    expect(await control.moveDownload(config(), "d.safetensors", 0)).toEqual({ file: "d.safetensors", queue_position: 0 });
    expect(await order()).toEqual(["d.safetensors", "a.safetensors", "b.safetensors", "c.safetensors"]);
    expect(await control.moveDownload(config(), "b.safetensors", 99)).toEqual({ file: "b.safetensors", queue_position: 3 });
    expect(await order()).toEqual(["d.safetensors", "a.safetensors", "c.safetensors", "b.safetensors"]);
    expect((await downloads())["b.safetensors"]?.status).toBe("paused");

    // what is queued later still comes after all of them
    await queueAll("e.safetensors");
    expect(await order()).toEqual(["d.safetensors", "a.safetensors", "c.safetensors", "b.safetensors", "e.safetensors"]);
  });

  it("refuses a download not in the queue (409), and one that does not exist (404)", async () => {
    await plantEntry("a.safetensors", { status: "downloading" }, 0);
    await plantEntry("b.safetensors", { status: "done", seq: 2 });

    const running = await rejection(control.moveDownload(config(), "a.safetensors", 0));
    const done = await rejection(control.moveDownload(config(), "b.safetensors", 0));
    const none = await rejection(control.moveDownload(config(), "c.safetensors", 0));

    expect(running).toBeInstanceOf(ConflictError);
    expect(running.message).toMatch(/is running: only a queued or paused one can be moved/);
    expect(done).toBeInstanceOf(ConflictError);
    expect(none).toBeInstanceOf(NotFoundError);
  });
});

describe("queue_position", () => {
  it("is in the status stream's event for the queued and paused downloads only", async () => {
    await plantEntry("a.safetensors", { status: "downloading", seq: 0 });
    await queueAll("b.safetensors", "c.safetensors");
    await control.pauseDownload(config(), "b.safetensors");

    const event = downloadsEvent(await state.readStatus(config()));

    expect(event.downloads["a.safetensors"]).not.toHaveProperty("queue_position");
    expect(event.downloads["b.safetensors"]).toMatchObject({ status: "paused", queue_position: 0 });
    expect(event.downloads["c.safetensors"]).toMatchObject({ status: "queued", queue_position: 1 });
  });
});

describe("a paused download and the rest of the service", () => {
  it("is deleted with its partial and its entry (DELETE)", async () => {
    await plantEntry("a.safetensors", { status: "paused" }, 0);
    await plantPartial("a.safetensors");

    expect(await request.deleteModel(studio(), "a.safetensors")).toEqual({ status: "deleted", file: "a.safetensors" });
    expect(await exists(`${target("a.safetensors")}.part`)).toBe(false);
    expect((await downloads())["a.safetensors"]).toBeUndefined();
  });

  it("stays paused across a sidecar restart, and one whose pause was asked for is paused then", async () => {
    await plantEntry("a.safetensors", { status: "paused", seq: 1 });
    await plantEntry("b.safetensors", { status: "downloading", seq: 2, pause: true });
    await plantEntry("c.safetensors", { status: "downloading", seq: 3 });

    await new DownloadQueue(studio(), () => undefined).recover();

    const after = await downloads();
    expect(after["a.safetensors"]).toMatchObject({ status: "paused", seq: 1, bytes_downloaded: 10 });
    expect(after["b.safetensors"]).toMatchObject({ status: "paused", seq: 2, speed: 0 });
    expect(after["b.safetensors"]?.pause).toBeUndefined();
    expect(after["c.safetensors"]?.status).toBe("queued");
  });

  it("is never started by the sidecar", async () => {
    await queueAll("a.safetensors");
    await control.pauseDownload(config(), "a.safetensors");
    const queue = new DownloadQueue(studio(), () => undefined);

    await queue.tick();

    expect(queue.size).toBe(0);
    expect((await downloads())["a.safetensors"]?.status).toBe("paused");
  });
});
