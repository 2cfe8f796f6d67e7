/**
 * The control file beside a `.part` (loadControl, saveControl) and the pieces a new download starts from.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bytesDone, loadControl, saveControl, segmentLength, type Control, type Segment } from "../../../../lib/downloads/engine/control";
import { PIECE_BYTES, pieces } from "../../../../lib/downloads/engine/schedule";
import { makeTempDir, removeTempDir } from "../../helpers";

/** Every byte of [0, size) exactly once, in order, with nothing started yet. */
function expectCovers(segments: Segment[], size: number): void {
  expect(segments[0]?.start).toBe(0);
  expect(segments.at(-1)?.end).toBe(size - 1);
  for (const [i, segment] of segments.entries()) {
    expect(segment.done).toBe(0);
    expect(segment.end).toBeGreaterThanOrEqual(segment.start);
    if (i > 0) expect(segment.start).toBe((segments[i - 1] as Segment).end + 1);
  }
  expect(segments.reduce((sum, s) => sum + segmentLength(s), 0)).toBe(size);
}

describe("pieces", () => {
  const sizes = [1, 1000, PIECE_BYTES - 1, PIECE_BYTES, PIECE_BYTES + 1, 2 * PIECE_BYTES + 7, 6_979_321_856];

  it("covers every byte exactly once, in order, in whole pieces with only the last one shorter", () => {
    for (const size of sizes) {
      const segments = pieces(size);

      expectCovers(segments, size);
      expect(segments).toHaveLength(Math.ceil(size / PIECE_BYTES));
      for (const segment of segments.slice(0, -1)) expect(segmentLength(segment)).toBe(PIECE_BYTES);
      expect(segmentLength(segments.at(-1)!)).toBe(size - (segments.length - 1) * PIECE_BYTES);
    }
  });

  it("gives a file no larger than a piece one segment", () => {
    for (const size of [1, 4096, PIECE_BYTES]) expect(pieces(size)).toEqual([{ start: 0, end: size - 1, done: 0 }]);
  });

  it("cuts at the piece size asked for", () => {
    expect(pieces(10, 4)).toEqual([
      { start: 0, end: 3, done: 0 },
      { start: 4, end: 7, done: 0 },
      { start: 8, end: 9, done: 0 },
    ]);
  });
});

describe("loadControl and saveControl", () => {
  let dir: string;
  let file: string;
  const KEY = "hf:org/repo@main/model.safetensors";
  const good = (): Control => ({
    version: 1,
    key: KEY,
    size: 100,
    etag: '"abc"',
    lastModified: "Wed, 21 Oct 2015 07:28:00 GMT",
    segments: [
      { start: 0, end: 49, done: 50 },
      { start: 50, end: 99, done: 10 },
    ],
  });
  const write = (content: unknown) => writeFile(file, typeof content === "string" ? content : JSON.stringify(content));

  beforeEach(async () => {
    dir = await makeTempDir();
    file = path.join(dir, "model.safetensors.part.json");
  });
  afterEach(() => removeTempDir(dir));

  it("round-trips a control through saveControl and loadControl", async () => {
    await saveControl(file, good());

    const loaded = await loadControl(file, KEY);

    expect(loaded).toEqual(good());
    expect(bytesDone(loaded as Control)).toBe(60);
  });

  it("reads a good file written by someone else", async () => {
    await write(good());

    expect(await loadControl(file, KEY)).toEqual(good());
  });

  it("gives undefined for a missing file", async () => {
    expect(await loadControl(file, KEY)).toBeUndefined();
  });

  it("gives undefined for corrupt JSON", async () => {
    await write('{"version": 1, "key": ');

    expect(await loadControl(file, KEY)).toBeUndefined();
  });

  it("moves a corrupt control file aside and says so", async () => {
    const lines: string[] = [];
    await write('{"version": 1, "key": ');

    expect(await loadControl(file, KEY, (line) => lines.push(line))).toBeUndefined();

    const aside = (await readdir(dir)).filter((f) => f.startsWith("model.safetensors.part.json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(dir, aside[0]!), "utf8")).toBe('{"version": 1, "key": ');
    expect(await readdir(dir)).not.toContain("model.safetensors.part.json");
    expect(lines).toEqual([`the control file model.safetensors.part.json was not valid JSON (${lines[0]?.match(/\((.*)\)/)?.[1]}); moved it to ${aside[0]} and started over`]);
  });

  it("leaves the control of another download where it is", async () => {
    await write(good());

    expect(await loadControl(file, "civitai:123")).toBeUndefined();
    expect(await readdir(dir)).toEqual(["model.safetensors.part.json"]);
  });

  it("gives undefined for a control of another download", async () => {
    await write(good());

    expect(await loadControl(file, "civitai:123")).toBeUndefined();
  });

  it.each([
    ["done beyond the segment's length", [{ start: 0, end: 49, done: 51 }]],
    ["a segment ending at or past the size", [{ start: 50, end: 100, done: 0 }]],
    ["a segment ending before it starts", [{ start: 60, end: 50, done: 0 }]],
    ["no segments", []],
  ])("gives undefined for inconsistent segments: %s", async (_what, segments) => {
    await write({ ...good(), segments });

    expect(await loadControl(file, KEY)).toBeUndefined();
  });

  it("gives undefined for a control of another version or shape", async () => {
    await write({ ...good(), version: 2 });
    expect(await loadControl(file, KEY)).toBeUndefined();

    await write({ ...good(), size: "100" });
    expect(await loadControl(file, KEY)).toBeUndefined();
  });
});
