import { describe, expect, it } from "vitest";
import { movedPosition, queuePlace, shownState, staleFiles } from "../../../web/admin/shown";
import type { LiveDownload, Model } from "../../../web/admin/types";

const model = (status: Model["status"], extra: Partial<Model> = {}): Model => ({ name: "M", file: "m.safetensors", dest: "checkpoints", status, on_disk_bytes: 0, ...extra });
const live = (status: LiveDownload["status"], extra: Partial<LiveDownload> = {}): LiveDownload => ({
  status,
  bytes_downloaded: 10,
  bytes_total: 100,
  speed: 5,
  percent: 10,
  ...extra,
});

describe("what a model's row shows", () => {
  it("follows the stream while a download is queued or running", () => {
    expect(shownState(model("not_downloaded"), live("downloading"))).toEqual({ status: "downloading", progress: live("downloading") });
    expect(shownState(model("queued"), live("downloading"))).toMatchObject({ status: "downloading" });
    expect(shownState(model("error", { error: "old" }), live("queued"))).toMatchObject({ status: "queued" });
  });

  it("believes the disk over a download the stream still lists", () => {
    expect(shownState(model("present"), live("downloading"))).toEqual({ status: "present" });
  });

  it("keeps a finished download's full bar, and calls it on disk before the listing knows", () => {
    const done = live("done", { percent: 100, bytes_downloaded: 100 });

    expect(shownState(model("present"), done)).toEqual({ status: "present", progress: done });
    expect(shownState(model("downloading"), done)).toEqual({ status: "present", progress: done });
    // a file deleted since is not brought back by an old "done"
    expect(shownState(model("not_downloaded"), done)).toEqual({ status: "not_downloaded" });
  });

  it("shows why a download failed, from the stream or the listing", () => {
    expect(shownState(model("downloading"), live("error", { error: "HTTP 404" }))).toEqual({ status: "error", error: "HTTP 404" });
    expect(shownState(model("error", { error: "checksum mismatch" }), undefined)).toEqual({ status: "error", error: "checksum mismatch" });
    expect(shownState(model("error"), undefined)).toEqual({ status: "error", error: "The download failed" });
  });

  it("is the listing's status when the stream says nothing", () => {
    expect(shownState(model("not_downloaded"), undefined)).toEqual({ status: "not_downloaded" });
    expect(shownState(model("present", { on_disk_bytes: 5 }), undefined)).toEqual({ status: "present" });
  });
  it("marks a file on disk that a verify found damaged, with the reason, whatever the stream says", () => {
    const reason = "The file is damaged: its SHA256 is aa, the catalog says bb. Delete it and download it again.";

    expect(shownState(model("present", { verified: false, error: reason }), undefined)).toEqual({ status: "present", damaged: true, error: reason });
    expect(shownState(model("present", { verified: false }), live("downloading"))).toMatchObject({ status: "present", damaged: true });
    expect(shownState(model("present", { verified: true }), undefined)).toEqual({ status: "present" });
    // a file gone since its verify is not damaged: it is not there
    expect(shownState(model("not_downloaded", { verified: false }), undefined)).toEqual({ status: "not_downloaded" });
  });
});

describe("a paused download and the queue", () => {
  it("shows a paused download with the bar and percent it had, and its place in the queue", () => {
    const paused = live("paused", { speed: 0, percent: 40, bytes_downloaded: 40, queue_position: 1 });

    expect(shownState(model("downloading"), paused)).toEqual({ status: "paused", progress: paused, position: 1 });
    expect(shownState(model("paused", { queue_position: 3 }), undefined)).toEqual({ status: "paused", position: 3 });
  });

  it("takes the stream's place in the queue over the listing's, and gives a running one none", () => {
    expect(shownState(model("queued", { queue_position: 4 }), live("queued", { queue_position: 0 }))).toMatchObject({ position: 0 });
    expect(shownState(model("queued", { queue_position: 4 }), live("downloading"))).not.toHaveProperty("position");
  });

  it("counts places as a person does, and moves one place at a time, none above the first", () => {
    expect([0, 1, 2, 3, 10, 11, 12, 20, 21, 110].map(queuePlace)).toEqual([
      "1st in the queue", "2nd in the queue", "3rd in the queue", "4th in the queue", "11th in the queue",
      "12th in the queue", "13th in the queue", "21st in the queue", "22nd in the queue", "111th in the queue",
    ]);
    expect(movedPosition(2, "up")).toBe(1);
    expect(movedPosition(0, "up")).toBeUndefined();
    expect(movedPosition(0, "down")).toBe(1);
  });
});

describe("when the listing is out of date", () => {
  it("names the models the listing has on their way that the stream says are finished, failed or gone", () => {
    const models = [model("downloading", { file: "a" }), model("queued", { file: "b" }), model("queued", { file: "c" }), model("present", { file: "d" })];

    expect(staleFiles(models, { a: live("done"), b: live("downloading"), d: live("done") })).toEqual(["a", "c"]);
  });

  it("keeps a paused one on its way: neither the listing nor the stream is stale about it", () => {
    expect(staleFiles([model("paused", { file: "p" }), model("downloading", { file: "q" })], { p: live("paused"), q: live("paused") })).toEqual([]);
  });
});
