import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as stream from "../../../lib/downloads/status-stream";
import { useStudio } from "../helpers";
import type { Status } from "../../../lib/state/status";

const studio = useStudio();

const status = (): Status => ({
  downloads: {
    "a.safetensors": {
      status: "downloading",
      bytes_downloaded: 1_073_741_824,
      bytes_total: 6_979_321_856,
      speed: 52_428_800,
      percent: 15.4,
      seq: 3,
      queued_at: 1_711_234_500_000,
      started_at: 1_711_234_501_000,
      cancel: true,
    },
    "b.safetensors": {
      status: "error",
      bytes_downloaded: 0,
      bytes_total: 0,
      speed: 0,
      percent: 0,
      error: "Not found upstream (HTTP 404)",
      seq: 4,
      queued_at: 1_711_234_500_000,
      finished_at: 1_711_234_502_000,
    },
  },
  metadata: { "a.safetensors": { status: "fetching_metadata" } },
  daemon: { pid: 42, heartbeat: 1_711_234_567_000, started_at: 1_711_234_000_000 },
});

describe("downloadsEvent", () => {
  it("keeps only status, bytes, speed, percent and error of each file, with the time in seconds", () => {
    const event = stream.downloadsEvent(status(), 1_711_234_567_890);

    expect(event).toEqual({
      downloads: {
        "a.safetensors": {
          status: "downloading",
          bytes_downloaded: 1_073_741_824,
          bytes_total: 6_979_321_856,
          speed: 52_428_800,
          percent: 15.4,
        },
        "b.safetensors": {
          status: "error",
          bytes_downloaded: 0,
          bytes_total: 0,
          speed: 0,
          percent: 0,
          error: "Not found upstream (HTTP 404)",
        },
      },
      timestamp: 1_711_234_567.89,
    });
  });

  it("gives no downloads for an empty status", () => {
    expect(stream.downloadsEvent({ downloads: {}, metadata: {} }, 2_000)).toEqual({ downloads: {}, timestamp: 2 });
  });
});

describe("statusEvents", () => {
  it("sends data events with the status and ends with a retry hint after max_seconds", async () => {
    const file = path.join(studio().studioDir, "state", "status.json");
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(status()));
    const started = Date.now();

    let text = "";
    for await (const chunk of stream.statusEvents(studio().config, 1)) text += String(chunk);

    // not before its second is up; and not much after it: one event at once and one a second at most
    // (a timer may fire a millisecond before the wall clock says the second is up), so a stream that
    // went on past its end would have sent a third. Counted, not timed: a loaded machine slows both.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(text).toMatch(/^(data: [^\n]+\n\n)+retry: 2000\n\n$/);
    const events = [...text.matchAll(/^data: (.+)$/gm)].map((match) => JSON.parse(match[1] as string));
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.length).toBeLessThanOrEqual(2);
    for (const event of events) {
      expect(Object.keys(event.downloads)).toEqual(["a.safetensors", "b.safetensors"]);
      expect(event.downloads["a.safetensors"]).not.toHaveProperty("seq");
      expect(event.timestamp).toBeGreaterThan(started / 1000 - 1);
    }
  });
});

describe("StatusQuery", () => {
  it("lasts 300 seconds by default", () => {
    expect(stream.StatusQuery.parse({})).toEqual({ max_seconds: 300 });
  });

  it("takes max_seconds from the query string", () => {
    expect(stream.StatusQuery.parse({ max_seconds: "1" })).toEqual({ max_seconds: 1 });
    expect(stream.StatusQuery.parse({ max_seconds: "870" })).toEqual({ max_seconds: 870 });
  });

  it("ends a stream asked for up to 900 seconds at 870, before API Gateway and Lambda end it at 900", () => {
    expect(stream.MAX_STREAM_SECONDS).toBe(870);
    expect(stream.StatusQuery.parse({ max_seconds: "871" })).toEqual({ max_seconds: 870 });
    expect(stream.StatusQuery.parse({ max_seconds: "900" })).toEqual({ max_seconds: 870 });
  });

  it.each(["0", "901", "1.5", "abc", "-5"])("refuses max_seconds=%s", (value) => {
    expect(stream.StatusQuery.safeParse({ max_seconds: value }).success).toBe(false);
  });
});
