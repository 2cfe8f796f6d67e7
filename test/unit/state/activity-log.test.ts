import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as activity from "../../../lib/state/activity-log";
import { useStudio } from "../helpers";

const studio = useStudio({ CIVITAI_API_KEY: "civitai-secret-0123" });

beforeEach(() => {
  return () => vi.restoreAllMocks();
});

const logFile = () => path.join(studio().studioDir, "state", "activity-log.json");

describe("the activity log", () => {
  it("keeps entries oldest first with the time as HH:MM:SS", async () => {
    await activity.appendActivity(studio().config, { message: "Queued 2 models for metadata fetch", level: "info" });
    await activity.appendActivity(studio().config, { message: "OK -- a.safetensors: base_model=SDXL 1.0, +5 civitai_tags", level: "ok" });

    const entries = await activity.readActivity(studio().config);

    expect(entries.map((e) => e.message)).toEqual(["Queued 2 models for metadata fetch", "OK -- a.safetensors: base_model=SDXL 1.0, +5 civitai_tags"]);
    expect(entries.every((e) => /^\d\d:\d\d:\d\d$/.test(e.time))).toBe(true);
    expect(JSON.parse(await readFile(logFile(), "utf8"))).toEqual(entries);
  });

  it("keeps the newest 1,000 entries", async () => {
    for (let batch = 0; batch < 3; batch++) {
      const lines = Array.from({ length: 350 }, (_, i) => ({ message: `line ${batch * 350 + i}`, level: "info" as const }));
      await activity.appendActivity(studio().config, ...lines);
    }

    const entries = await activity.readActivity(studio().config);

    expect(entries).toHaveLength(1_000);
    expect(entries[0]!.message).toBe("line 50");
    expect(entries.at(-1)!.message).toBe("line 1049");
  });

  it("never stores a credential, even one inside a message", async () => {
    await activity.appendActivity(studio().config, { message: "ERROR -- x: GET https://civitai.com/api?token=civitai-secret-0123 failed", level: "error" });

    expect(await readFile(logFile(), "utf8")).not.toContain("civitai-secret-0123");
  });

  it("never stores the configured credential where no pattern gives it away", async () => {
    await activity.appendActivity(studio().config, { message: "ERROR -- x: the upstream echoed civitai-secret-0123 back", level: "error" });

    expect((await activity.readActivity(studio().config)).map((e) => e.message)).toEqual(["ERROR -- x: the upstream echoed [redacted] back"]);
  });

  it("clears", async () => {
    await activity.appendActivity(studio().config, { message: "something", level: "info" });

    expect(await activity.clearActivity(studio().config)).toEqual({ status: "cleared" });
    expect(await activity.readActivity(studio().config)).toEqual([]);
  });

  it("moves a corrupt log aside and starts a new one", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await mkdir(path.dirname(logFile()), { recursive: true });
    await writeFile(logFile(), '[{"time": "12:00:00", "message": "half');

    await activity.appendActivity(studio().config, { message: "after the crash", level: "info" });

    expect((await activity.readActivity(studio().config)).map((e) => e.message)).toEqual(["after the crash"]);
    const aside = (await readdir(path.dirname(logFile()))).filter((f) => f.startsWith("activity-log.json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(logFile()), aside[0]!), "utf8")).toBe('[{"time": "12:00:00", "message": "half');
  });
  it("keeps the good entries of a log that one bad entry spoils, and moves the log aside", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await mkdir(path.dirname(logFile()), { recursive: true });
    const good = { time: "12:00:00", message: "OK -- a.safetensors", level: "ok" };
    await writeFile(logFile(), JSON.stringify([good, { time: 3, message: "bad" }, "nonsense"]));

    expect(await activity.readActivity(studio().config)).toEqual([good]);
    await activity.appendActivity(studio().config, { message: "after the repair", level: "info" });

    expect((await activity.readActivity(studio().config)).map((e) => e.message)).toEqual(["OK -- a.safetensors", "after the repair"]);
    expect((await readdir(path.dirname(logFile()))).filter((f) => f.startsWith("activity-log.json.corrupt-"))).toHaveLength(1);
    expect(logged).toHaveBeenCalledTimes(1);
  });
});
