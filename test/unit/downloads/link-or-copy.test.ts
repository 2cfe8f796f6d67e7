import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CancelledError } from "../../../lib/downloads/engine/errors";
import { CopyMismatchError, linkOrCopy, TargetTakenError } from "../../../lib/downloads/link-or-copy";
import { makeTempDir, removeTempDir } from "../helpers";

const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const failing = (code: string) => async () => {
  throw Object.assign(new Error(`${code}: refused`), { code });
};
/** What a link across two file systems answers: the copy then is real, only the link is played. */
const acrossFileSystems = failing("EXDEV");

let root: string;
let source: string;
let target: string;
const bytes = Buffer.from("the same model, already on the volume\n".repeat(1000));

beforeEach(async () => {
  root = await makeTempDir();
  source = path.join(root, "loras", "style.safetensors");
  target = path.join(root, "checkpoints", "style-copy.safetensors");
  await mkdir(path.dirname(source), { recursive: true });
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(source, bytes);
});
afterEach(() => removeTempDir(root));

const signal = () => new AbortController().signal;
const folder = () => readdir(path.dirname(target));

describe("putting a file of the volume at a model's path", () => {
  it("hard-links it on the same file system: one inode, no byte copied", async () => {
    const seen: number[] = [];

    const placed = await linkOrCopy(source, target, { sha256: sha(bytes), signal: signal(), onBytes: (done) => seen.push(done) });

    expect(placed).toMatchObject({ how: "linked", bytes: bytes.length, mtimeMs: (await stat(source)).mtimeMs });
    expect((await stat(target)).ino).toBe((await stat(source)).ino);
    expect((await stat(source)).nlink).toBe(2);
    expect(seen).toEqual([bytes.length]);
  });

  it("copies it when the link crosses file systems (EXDEV): same bytes, another inode, hashed back from the disk", async () => {
    const placed = await linkOrCopy(source, target, { sha256: sha(bytes), signal: signal(), link: acrossFileSystems });

    expect(placed.how).toBe("copied");
    expect((await readFile(target)).equals(bytes)).toBe(true);
    expect((await stat(target)).ino).not.toBe((await stat(source)).ino);
    expect(placed.hashed).toMatchObject({ sha256: sha(bytes), bytes: bytes.length, mtime_ms: (await stat(target)).mtimeMs });
    expect(await folder()).toEqual(["style-copy.safetensors"]);
  });

  it("copies it too where the file system has no hard links (EPERM)", async () => {
    const placed = await linkOrCopy(source, target, { sha256: sha(bytes), signal: signal(), link: failing("EPERM") });

    expect(placed.how).toBe("copied");
    expect((await readFile(target)).equals(bytes)).toBe(true);
  });

  it("never replaces a file already at the target, linking", async () => {
    await writeFile(target, "someone else's");

    await expect(linkOrCopy(source, target, { sha256: sha(bytes), signal: signal() })).rejects.toBeInstanceOf(TargetTakenError);

    expect(await readFile(target, "utf8")).toBe("someone else's");
    expect((await stat(source)).nlink).toBe(1);
  });

  it("never replaces a file that turned up at the target while it copied", async () => {
    const placing = linkOrCopy(source, target, {
      sha256: sha(bytes),
      signal: signal(),
      link: acrossFileSystems,
      // the first bytes copied: the target appears now, before the rename
      onBytes: () => writeFileSync(target, "someone else's", { flag: "wx" }),
    });

    await expect(placing).rejects.toBeInstanceOf(TargetTakenError);

    expect(await readFile(target, "utf8")).toBe("someone else's");
    expect(await folder()).toEqual(["style-copy.safetensors"]);
  });

  it("discards a copy whose bytes are not the ones asked for, and leaves nothing behind", async () => {
    const placing = linkOrCopy(source, target, { sha256: sha("other bytes"), signal: signal(), link: acrossFileSystems });

    await expect(placing).rejects.toBeInstanceOf(CopyMismatchError);

    expect(await folder()).toEqual([]);
  });

  it("stops a copy on cancel, and leaves neither the target nor its temp file", async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    await writeFile(source, big);
    const controller = new AbortController();

    const placing = linkOrCopy(source, target, {
      sha256: sha(big),
      signal: controller.signal,
      link: acrossFileSystems,
      onBytes: (done) => done > 0 && controller.abort(),
    });

    await expect(placing).rejects.toBeInstanceOf(CancelledError);
    expect(await folder()).toEqual([]);
  });

  it("removes the temp file a copy killed on the way left, before it copies", async () => {
    const stray = path.join(path.dirname(target), ".style-copy.safetensors.4242.0badf00d.tmp");
    await writeFile(stray, "half a copy");

    await linkOrCopy(source, target, { sha256: sha(bytes), signal: signal(), link: acrossFileSystems });

    expect(await folder()).toEqual(["style-copy.safetensors"]);
  });

  it("lets any other failure through, copying nothing: the caller downloads instead", async () => {
    await expect(linkOrCopy(source, target, { sha256: sha(bytes), signal: signal(), link: failing("EIO") })).rejects.toMatchObject({ code: "EIO" });

    expect(await lstat(target).catch(() => undefined)).toBeUndefined();
  });
});
