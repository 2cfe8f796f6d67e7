import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { beatingAt, heartbeatWriter, HEARTBEAT_STALE_MS, readHeartbeat, sidecarRunning, type Heartbeat } from "../../../lib/state/heartbeat";
import { makeTempDir, removeTempDir } from "../helpers";

let stateDir: string;

beforeEach(async () => {
  stateDir = await makeTempDir();
});

afterEach(() => removeTempDir(stateDir));

describe("the sidecar's heartbeat file", () => {
  it("holds who beat and when, replaced whole at every beat", async () => {
    const { beat } = heartbeatWriter(stateDir, 4242, 1_000);

    const before = Date.now();
    await beat();
    const first = await readHeartbeat(stateDir);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await beat();
    const second = await readHeartbeat(stateDir);

    expect(first).toMatchObject({ pid: 4242, started_at: 1_000 });
    expect(first!.heartbeat).toBeGreaterThanOrEqual(before);
    expect(second!.heartbeat).toBeGreaterThan(first!.heartbeat);
    expect(await readdir(stateDir)).toEqual(["sidecar.json"]);
    expect(await sidecarRunning(stateDir)).toBe(true);
  });

  it("clears what a sidecar killed in the middle of a beat left, at its successor's first beat", async () => {
    await writeFile(path.join(stateDir, ".sidecar.json.999999.0badc0de.tmp"), '{"pid": 99');

    await heartbeatWriter(stateDir).beat();

    expect(await readdir(stateDir)).toEqual(["sidecar.json"]);
    expect(JSON.parse(await readFile(path.join(stateDir, "sidecar.json"), "utf8"))).toMatchObject({ pid: process.pid });
  });

  it.each([
    ["there is none", undefined],
    ["it is not JSON", '{"pid": 12, "heart'],
    ["it is not a heartbeat", '{"pid": "twelve"}'],
  ])("reads as no sidecar when %s", async (_what, text) => {
    await mkdir(stateDir, { recursive: true });
    if (text !== undefined) await writeFile(path.join(stateDir, "sidecar.json"), text);

    expect(await readHeartbeat(stateDir)).toBeUndefined();
    expect(await sidecarRunning(stateDir)).toBe(false);
  });
});

describe("beatingAt", () => {
  const beatAt = (heartbeat: number): Heartbeat => ({ pid: 1234, heartbeat, started_at: heartbeat - 60_000 });

  it("is true within HEARTBEAT_STALE_MS of the last heartbeat", () => {
    const beat = 1_700_000_000_000;

    expect(beatingAt(beatAt(beat), beat)).toBe(true);
    expect(beatingAt(beatAt(beat), beat + HEARTBEAT_STALE_MS - 1)).toBe(true);
  });

  it("is false once the heartbeat is HEARTBEAT_STALE_MS old or more", () => {
    const beat = 1_700_000_000_000;

    expect(beatingAt(beatAt(beat), beat + HEARTBEAT_STALE_MS)).toBe(false);
    expect(beatingAt(beatAt(beat), beat + 60 * 60_000)).toBe(false);
  });

  it("stays true over three missed beats (a slow volume, a busy sidecar)", () => {
    const beat = 1_700_000_000_000;

    expect(beatingAt(beatAt(beat), beat + 6_500)).toBe(true);
  });

  it("is false when no sidecar ever wrote a heartbeat", () => {
    expect(beatingAt(undefined)).toBe(false);
  });

  it("uses the current time by default", () => {
    expect(beatingAt(beatAt(Date.now()))).toBe(true);
    expect(beatingAt(beatAt(Date.now() - HEARTBEAT_STALE_MS - 1000))).toBe(false);
  });
});
