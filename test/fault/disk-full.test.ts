import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { open, readdir, rm, statfs } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog, type TestModel } from "../support/catalogs";
import { fileModel, MiB, sha256File, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import type { StackDirs } from "../support/stack";
import { fileSha256, type FileSpec } from "../support/upstream";

/**
 * The models folder on a small filesystem of its own (tmpfs, 24 MiB): a model whose size is known and does
 * not fit fails before the first byte, saying how much it needs and how much there is; one whose size is
 * not known fails when the disk fills, clearly, with nothing under the final name and no partial left to
 * keep the disk full; one that fits alone but not beside a download in progress is refused before its
 * first byte; a ranged one whose room something else took keeps its partial and resumes once there is room.
 */
const ROOM = 24 * MiB;

/** Writes `file` until the disk is full, as another program on a shared volume may. */
async function fillUp(file: string): Promise<void> {
  const handle = await open(file, "w");
  try {
    for (;;) await handle.write(Buffer.alloc(256 * 1024));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await handle.close();
  }
}

function mountTmpfs(dir: string, bytes: number): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
  }
}

const root = mkdtempSync(path.join(os.tmpdir(), "models-admin-diskfull-"));
const dirs: StackDirs = { root, studioDir: path.join(root, "studio"), modelsDir: path.join(root, "ComfyUI", "models") };
mkdirSync(dirs.modelsDir, { recursive: true });
const mountError = mountTmpfs(dirs.modelsDir, ROOM);
if (mountError !== undefined && process.env.CI) throw new Error(`disk-full tests need a tmpfs (run as root): mount failed: ${mountError}`);
if (mountError !== undefined) console.warn(`skipping the disk-full tests: cannot mount a tmpfs here (${mountError}); CI runs them as root`);

describe.skipIf(mountError !== undefined)("a models folder that runs out of room", () => {
  let own: OwnStack;
  let streamer: Server;
  let models: Record<string, TestModel>;
  const ranged = {
    // slow enough that both have started, and passed the check for room, before either has filled the disk
    one: { id: "diskfull/one.bin", size: 14 * MiB + 3, mode: "slow", bytesPerSecond: 7 * MiB },
    two: { id: "diskfull/two.bin", size: 14 * MiB + 5, mode: "slow", bytesPerSecond: 7 * MiB },
    three: { id: "diskfull/three.bin", size: 14 * MiB + 7, mode: "slow", bytesPerSecond: 3 * MiB },
  } satisfies Record<string, FileSpec>;
  const target = (model: TestModel) => path.join(dirs.modelsDir, model.dest, model.file);
  const settled = (model: TestModel) =>
    waitFor(
      async () => {
        const entry = (await own.readStatus()).downloads[model.file];
        return entry?.status === "done" || entry?.status === "error" ? entry : undefined;
      },
      `${model.file} to finish`,
      30_000,
    );
  const leftovers = async (dest: string) => readdir(path.join(dirs.modelsDir, dest)).catch(() => [] as string[]);

  beforeAll(async () => {
    // a server that does not say how long the file is: 40 MiB sent chunked, no ranges
    streamer = createServer((req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      let sent = 0;
      const more = () => {
        while (sent < 40 * MiB) {
          sent += 256 * 1024;
          if (!res.write(randomBytes(256 * 1024))) return void res.once("drain", more);
        }
        res.end();
      };
      res.on("close", () => (sent = Infinity));
      more();
    });
    await new Promise<void>((resolve) => streamer.listen(0, "127.0.0.1", resolve));
    own = await startOwnStack({ MAX_CONCURRENT_DOWNLOADS: "2", DOWNLOAD_CONNECTIONS: "1" }, dirs);
    for (const spec of Object.values(ranged)) await own.up.register(spec);
    await own.up.register({ id: "diskfull/too-big.bin", size: 40 * MiB });
    models = {
      tooBig: fileModel(own.up, "diskfull/too-big.bin", "too_big.safetensors", "checkpoints"),
      unknown: { ...fileModel(own.up, "unused", "streamed.safetensors", "vae"), url: `http://127.0.0.1:${(streamer.address() as AddressInfo).port}/streamed` },
      one: fileModel(own.up, ranged.one.id, "one.safetensors", "loras"),
      two: fileModel(own.up, ranged.two.id, "two.safetensors", "loras"),
      three: fileModel(own.up, ranged.three.id, "three.safetensors", "loras"),
    };
    await writeCatalog(own.stack.studioDir, "models", catalog([{ id: "disk", name: "Disk", models: Object.values(models) }]));
  });

  afterAll(async () => {
    streamer?.closeAllConnections();
    streamer?.close();
    // the stack first (it holds files there), then the mount, then the rest (close() removes the folders)
    await own?.stack.stop("SIGTERM");
    execFileSync("umount", [dirs.modelsDir]);
    await own?.close();
  });

  it("refuses a model that does not fit before the first byte, saying how much it needs and has", async () => {
    await own.call("POST", "/api/admin/models/download/too_big.safetensors");

    const entry = await settled(models.tooBig!);

    expect(entry.status).toBe("error");
    expect(entry.error).toMatch(/^Not enough disk space: need 40\.0 MiB, have 2\d\.\d MiB$/);
    expect(await leftovers("checkpoints")).toEqual([]);
  });

  it("fails a download of unknown size clearly when the disk fills, leaving neither the file nor its partial", async () => {
    await own.call("POST", "/api/admin/models/download/streamed.safetensors");

    const entry = await settled(models.unknown!);

    expect(entry.status).toBe("error");
    expect(entry.error).toMatch(/^The disk is full: no room left in .*\/vae after \d+\.\d MiB; the partial download was removed$/);
    expect(await leftovers("vae")).toEqual([]);
    // the room is there again for the next download
    const fs = await statfs(dirs.modelsDir);
    expect(fs.bavail * fs.bsize).toBeGreaterThan(ROOM - 1 * MiB);
  });

  it("refuses a download that fits alone but not beside one in progress, before its first byte", async () => {
    // each fits alone; the second to start finds the room the first has yet to fill already promised
    await own.call("POST", "/api/admin/models/download-batch", { json: { filenames: ["one.safetensors", "two.safetensors"] } });
    const first = { one: await settled(models.one!), two: await settled(models.two!) };
    const [won, lost] = first.one.status === "done" ? (["one", "two"] as const) : (["two", "one"] as const);

    expect(first[won].status).toBe("done");
    expect(await sha256File(target(models[won]!))).toBe(fileSha256(ranged[won].id, ranged[won].size));
    expect(first[lost].status).toBe("error");
    expect(first[lost].error).toMatch(
      /^Not enough disk space: need 14\.0 MiB, have \d+\.\d MiB \(\d+\.\d MiB free, \d+\.\d MiB of it still to come for 1 other download in progress\)$/,
    );
    expect(await leftovers("loras")).toEqual([models[won]!.file]);
    // nothing of it was fetched: the answer to the probe was all
    expect((await own.up.stats(ranged[lost].id)).bytesSent).toBeLessThan(1 * MiB);

    // once the first is done its claim is gone: what stands in the way now is only the file itself
    await own.call("POST", `/api/admin/models/download/${models[lost]!.file}`);
    expect((await settled(models[lost]!)).error).toMatch(/^Not enough disk space: need 14\.0 MiB, have \d+\.\d MiB$/);
    await own.call("DELETE", `/api/admin/models/${models[won]!.file}`);
  });

  it("keeps the partial of a ranged download whose room something else took, and resumes it once there is room", async () => {
    const model = models.three!;
    await own.call("POST", `/api/admin/models/download/${model.file}`);
    await waitFor(async () => ((await own.readStatus()).downloads[model.file]?.bytes_downloaded ?? 0) >= 2 * MiB || undefined, "the download to be under way");
    // another program on the shared volume takes all the room that is left
    const filler = path.join(dirs.modelsDir, "filler.bin");
    await fillUp(filler);

    const failed = await settled(model);

    expect(failed.status).toBe("error");
    expect(failed.error).toMatch(/^The disk is full: no room left in .*\/loras after \d+\.\d MiB of 14\.0 MiB; the partial download is kept and resumes when there is room$/);
    expect(await leftovers("loras")).toContain(`${model.file}.part`);
    expect(await leftovers("loras")).not.toContain(model.file);

    await rm(filler);
    await own.call("POST", `/api/admin/models/download/${model.file}`);

    expect((await settled(model)).status).toBe("done");
    expect(await sha256File(target(model))).toBe(fileSha256(ranged.three.id, ranged.three.size));
    // resumed, not fetched again from the start
    expect((await own.up.stats(ranged.three.id)).bytesSent).toBeLessThan(ranged.three.size * 1.5);
    expect(await leftovers("loras")).toEqual([model.file]);
    expect(await own.secretsOnDisk()).toEqual([]);
  });
});
