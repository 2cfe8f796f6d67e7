/**
 * The checkpoints of a running download (checkpoints.ts), with a part file whose sync the test finishes when
 * it wants: one checkpoint at a time, the ones asked for meanwhile collapsed into one with the latest
 * progress, never a control file claiming bytes that were not synced, and the last one taken at the end.
 */
import { open } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CHECKPOINT_BYTES, CHECKPOINT_MS, Checkpointer } from "../../../../lib/downloads/engine/checkpoints";
import { loadControl, type Control } from "../../../../lib/downloads/engine/control";
import { makeTempDir, removeTempDir } from "../../helpers";

/** Lets every promise that can settle now settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A part file whose every datasync waits until the test finishes (or fails) it. */
function slowDisk() {
  const syncs: Array<{ done: () => void; fail: (error: Error) => void }> = [];
  const datasync = vi.fn(
    () =>
      new Promise<void>((resolve, reject) => {
        syncs.push({ done: resolve, fail: reject });
      }),
  );
  return { handle: { datasync }, syncs };
}

/** A download of 300 bytes in three pieces, none written yet. */
const progress = (): Control => ({
  version: 1,
  key: "url:http://127.0.0.1/model.bin",
  size: 300,
  segments: [
    { start: 0, end: 99, done: 0 },
    { start: 100, end: 199, done: 0 },
    { start: 200, end: 299, done: 0 },
  ],
});

describe("Checkpointer", () => {
  let disk: ReturnType<typeof slowDisk>;
  let control: Control;
  let saved: Control[];
  let lines: string[];
  let save: (file: string, control: Control) => Promise<void>;
  const checkpointer = () => new Checkpointer({ handle: disk.handle, control, file: "/nowhere/model.part.json", log: (line) => lines.push(line), save });

  beforeEach(() => {
    disk = slowDisk();
    control = progress();
    saved = [];
    lines = [];
    save = (_file, snapshot) => {
      saved.push(structuredClone(snapshot));
      return Promise.resolve();
    };
  });

  it("runs one checkpoint at a time, and the ones asked for meanwhile as one more with the latest progress", async () => {
    const checkpoints = checkpointer();
    checkpoints.request();
    control.segments[0]!.done = 40;
    checkpoints.request();
    control.segments[0]!.done = 100;
    control.segments[1]!.done = 7;
    checkpoints.request();
    checkpoints.request();
    await settle();
    expect(disk.handle.datasync).toHaveBeenCalledTimes(1);

    disk.syncs[0]!.done();
    await settle();
    expect(saved.map((c) => c.segments)).toEqual([progress().segments]);
    expect(disk.handle.datasync).toHaveBeenCalledTimes(2);

    disk.syncs[1]!.done();
    await checkpoints.end(false);

    expect(disk.handle.datasync).toHaveBeenCalledTimes(2);
    expect(saved.at(-1)!.segments).toEqual([
      { start: 0, end: 99, done: 100 },
      { start: 100, end: 199, done: 7 },
      { start: 200, end: 299, done: 0 },
    ]);
  });

  it("never claims a byte written after the sync began: the progress is taken before the sync", async () => {
    const checkpoints = checkpointer();
    control.segments[0]!.done = 10;
    checkpoints.request();

    control.segments[0]!.done = 100; // written while the disk syncs: maybe not on it
    control.segments[1]!.done = 50;
    disk.syncs[0]!.done();
    await settle();

    expect(saved).toHaveLength(1);
    expect(saved[0]!.segments.map((s) => s.done)).toEqual([10, 0, 0]);
    disk.syncs[1]?.done();
    await checkpoints.end(false);
  });

  it("saves nothing when the sync fails, says so, and goes on with the next checkpoint", async () => {
    const checkpoints = checkpointer();
    checkpoints.request();
    disk.syncs[0]!.fail(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await settle();

    expect(saved).toEqual([]);
    expect(lines).toEqual(["could not save progress: EIO: i/o error, fdatasync"]);

    checkpoints.request();
    disk.syncs[1]!.done();
    await checkpoints.end(false);
    expect(saved).toHaveLength(1);
  });

  it("logs a failing save instead of throwing, and still takes the last checkpoint", async () => {
    save = () => Promise.reject(new Error("ENOSPC: no space left on device, write"));
    const checkpoints = checkpointer();
    checkpoints.request();
    disk.syncs[0]!.done();
    await settle();

    const ending = checkpoints.end(true);
    await settle();
    disk.syncs[1]!.done();

    await expect(ending).resolves.toBeUndefined();
    expect(lines).toEqual(["could not save progress: ENOSPC: no space left on device, write", "could not save progress: ENOSPC: no space left on device, write"]);
  });

  it("takes a last checkpoint with the final progress at a good end, after the one running", async () => {
    const checkpoints = checkpointer();
    checkpoints.request();
    for (const segment of control.segments) segment.done = 100;

    const ending = checkpoints.end(true);
    disk.syncs[0]!.done();
    await settle();
    disk.syncs[1]!.done();
    await ending;

    expect(disk.handle.datasync).toHaveBeenCalledTimes(2);
    // the finished pieces are one range in the control file; the live segments stay as they are
    expect(saved.at(-1)!.segments).toEqual([{ start: 0, end: 299, done: 300 }]);
    expect(control.segments).toHaveLength(3);
  });

  it("takes no more checkpoints at a cancelled end, only waits for the one running", async () => {
    const checkpoints = checkpointer();
    await checkpoints.end(false);
    expect(disk.handle.datasync).not.toHaveBeenCalled();

    checkpoints.request();
    let ended = false;
    const ending = checkpoints.end(false).then(() => (ended = true));
    await settle();
    expect(ended).toBe(false);

    disk.syncs[0]!.done();
    await ending;
    expect(disk.handle.datasync).toHaveBeenCalledTimes(1);
    expect(saved).toHaveLength(1);
  });

  it("only syncs a download that cannot be resumed: it has no progress to save", async () => {
    const checkpoints = new Checkpointer({ handle: disk.handle, control: undefined, file: "/nowhere/x", log: (line) => lines.push(line), save });
    const ending = checkpoints.end(true);
    disk.syncs[0]!.done();
    await ending;

    expect(disk.handle.datasync).toHaveBeenCalledTimes(1);
    expect(saved).toEqual([]);
  });
});

describe("Checkpointer.written", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  const watch = () => {
    const datasync = vi.fn(() => Promise.resolve());
    return { datasync, checkpoints: new Checkpointer({ handle: { datasync }, control: undefined, file: "/nowhere/x", log: () => undefined }) };
  };

  it(`checkpoints every ${CHECKPOINT_BYTES / 2 ** 20} MiB written`, async () => {
    const { datasync, checkpoints } = watch();

    checkpoints.written(CHECKPOINT_BYTES - 1, 1_000_001);
    expect(datasync).not.toHaveBeenCalled();

    checkpoints.written(CHECKPOINT_BYTES, 1_000_002);
    expect(datasync).toHaveBeenCalledTimes(1);
    await settle();
    checkpoints.written(2 * CHECKPOINT_BYTES - 1, 1_000_003);
    expect(datasync).toHaveBeenCalledTimes(1);
    checkpoints.written(2 * CHECKPOINT_BYTES, 1_000_004);
    expect(datasync).toHaveBeenCalledTimes(2);
  });

  it(`checkpoints ${CHECKPOINT_MS} ms after the last one when anything was written, and not when nothing was`, async () => {
    const { datasync, checkpoints } = watch();

    checkpoints.written(1, 1_000_000 + CHECKPOINT_MS - 1);
    expect(datasync).not.toHaveBeenCalled();
    checkpoints.written(1, 1_000_000 + CHECKPOINT_MS);
    expect(datasync).toHaveBeenCalledTimes(1);
    await settle();

    checkpoints.written(2, 1_000_000 + 2 * CHECKPOINT_MS - 1); // too soon
    expect(datasync).toHaveBeenCalledTimes(1);
    checkpoints.written(2, 1_000_000 + 2 * CHECKPOINT_MS);
    expect(datasync).toHaveBeenCalledTimes(2);
    await settle();

    checkpoints.written(2, 1_000_000 + 10 * CHECKPOINT_MS); // nothing new since
    expect(datasync).toHaveBeenCalledTimes(2);
  });
});

describe("Checkpointer on a real part file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  it("leaves a control file that a resumed download loads, with the progress of the end", async () => {
    const handle = await open(path.join(dir, "model.bin.part"), "w");
    const file = path.join(dir, "model.bin.part.json");
    const control = progress();
    const checkpoints = new Checkpointer({ handle, control, file, log: () => undefined });

    control.segments[0]!.done = 100;
    control.segments[2]!.done = 30;
    await checkpoints.end(true);
    await handle.close();

    expect(await loadControl(file, control.key)).toEqual(control);
  });
});
