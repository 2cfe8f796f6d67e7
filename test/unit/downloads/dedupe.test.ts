import { createHash } from "node:crypto";
import { appendFile, lstat, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { notComing, placeFromVolume, rememberDownload, TRUST_HASH_MS, type FromVolume } from "../../../lib/downloads/dedupe";
import { CancelledError } from "../../../lib/downloads/engine/errors";
import { readActivity } from "../../../lib/state/activity-log";
import { readHashCache, recordHashes } from "../../../lib/volume/hash-cache";
import { model, useStudio } from "../helpers";

const studio = useStudio();
const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const bytes = Buffer.from("a LoRA already on the volume\n".repeat(2000));
const SHA = sha(bytes);
const at = (key: string) => path.join(studio().modelsDir, key);
const WHEN = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const acrossFileSystems = async () => {
  throw Object.assign(new Error("EXDEV: cross-device link not permitted"), { code: "EXDEV" });
};

/** A file on the volume at `key`, hashed into the cache `age` ms ago (as identify or a download leaves it). */
async function onVolume(key: string, content: Buffer = bytes, age = 0): Promise<void> {
  await mkdir(path.dirname(at(key)), { recursive: true });
  await writeFile(at(key), content);
  // a whole second: what utimes can put back exactly
  await utimes(at(key), WHEN, WHEN);
  const { size, mtimeMs } = await stat(at(key));
  await recordHashes(studio().config, new Map([[key, { bytes: size, mtime_ms: mtimeMs, sha256: sha(content), hashed_at: Date.now() - age }]]));
}

function job(key: string, extra: Partial<FromVolume> = {}): FromVolume & { lines: string[] } {
  const lines: string[] = [];
  const file = path.posix.basename(key);
  return { config: studio().config, file, target: at(key), sha256: SHA, signal: new AbortController().signal, log: (line) => lines.push(line), lines, ...extra };
}

describe("a queued model whose bytes are already on the volume", () => {
  it("is linked from the file the hash cache names: one inode, its hash recorded, the activity log told", async () => {
    await onVolume("loras/style.safetensors");
    const wanted = job("checkpoints/style_copy.safetensors");

    const found = await placeFromVolume(wanted);

    expect(found).toEqual({ how: "linked", from: "loras/style.safetensors", bytes: bytes.length });
    expect((await stat(wanted.target)).ino).toBe((await stat(at("loras/style.safetensors"))).ino);
    const cache = await readHashCache(studio().config);
    expect(cache.files["checkpoints/style_copy.safetensors"]).toMatchObject({ sha256: SHA, bytes: bytes.length, mtime_ms: (await stat(wanted.target)).mtimeMs });
    const activity = (await readActivity(studio().config)).map((entry) => entry.message);
    expect(activity).toEqual(["Linked style_copy.safetensors from loras/style.safetensors (already on the volume)"]);
  });

  it("takes the catalog's SHA256 in capitals, as CivitAI writes it", async () => {
    await onVolume("loras/style.safetensors");

    expect(await placeFromVolume(job("checkpoints/a.safetensors", { sha256: SHA.toUpperCase() }))).toMatchObject({ how: "linked" });
  });

  it("is copied, and the copy hashed, when the link would cross file systems", async () => {
    await onVolume("loras/style.safetensors");
    const wanted = job("checkpoints/style_copy.safetensors", { link: acrossFileSystems });

    const found = await placeFromVolume(wanted);

    expect(found).toMatchObject({ how: "copied", from: "loras/style.safetensors" });
    expect((await readFile(wanted.target)).equals(bytes)).toBe(true);
    expect((await stat(wanted.target)).ino).not.toBe((await stat(at("loras/style.safetensors"))).ino);
    expect((await readActivity(studio().config))[0]?.message).toBe("Copied style_copy.safetensors from loras/style.safetensors (already on the volume)");
  });

  it("is stopped by a cancel during the copy, with nothing left at the target", async () => {
    await onVolume("loras/style.safetensors");
    const controller = new AbortController();
    const wanted = job("checkpoints/style_copy.safetensors", { link: acrossFileSystems, signal: controller.signal, onBytes: () => controller.abort() });

    await expect(placeFromVolume(wanted)).rejects.toBeInstanceOf(CancelledError);

    expect(await lstat(wanted.target).catch(() => undefined)).toBeUndefined();
  });

  it("is downloaded when the file changed since it was hashed (another size or mtime)", async () => {
    await onVolume("loras/style.safetensors");
    await appendFile(at("loras/style.safetensors"), "more");
    const wanted = job("checkpoints/style_copy.safetensors");

    expect(await placeFromVolume(wanted)).toBeUndefined();

    expect(await lstat(wanted.target).catch(() => undefined)).toBeUndefined();
  });

  it("is downloaded when the file the record names is gone", async () => {
    await onVolume("loras/style.safetensors");
    await rm(at("loras/style.safetensors"));

    expect(await placeFromVolume(job("checkpoints/style_copy.safetensors"))).toBeUndefined();
  });

  it("reads an old record's file again before linking it, and catches bytes changed under the same size and mtime", async () => {
    await onVolume("loras/style.safetensors", bytes, TRUST_HASH_MS + 60_000);
    const rotten = Buffer.from(bytes);
    rotten[100] = 0xff - bytes[100]!;
    await writeFile(at("loras/style.safetensors"), rotten);
    await utimes(at("loras/style.safetensors"), WHEN, WHEN);
    const wanted = job("checkpoints/style_copy.safetensors");

    expect(await placeFromVolume(wanted)).toBeUndefined();

    expect(await lstat(wanted.target).catch(() => undefined)).toBeUndefined();
    expect((await readHashCache(studio().config)).files["loras/style.safetensors"]?.sha256).toBe(sha(rotten));
    expect(wanted.lines.join("\n")).toMatch(/loras\/style\.safetensors no longer has the SHA256 it was recorded with/);
  });

  it("links an old record's file once reading it again shows the same bytes, and dates the record anew", async () => {
    await onVolume("loras/style.safetensors", bytes, TRUST_HASH_MS + 60_000);
    const before = Date.now();

    expect(await placeFromVolume(job("checkpoints/style_copy.safetensors"))).toMatchObject({ how: "linked" });

    expect((await readHashCache(studio().config)).files["loras/style.safetensors"]?.hashed_at).toBeGreaterThanOrEqual(before);
  });

  it("never reads through a folder that links out of the models folder", async () => {
    const outside = path.join(studio().root, "outside");
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, "style.safetensors"), bytes);
    await mkdir(studio().modelsDir, { recursive: true });
    await symlink(outside, at("elsewhere"));
    const { size, mtimeMs } = await stat(path.join(outside, "style.safetensors"));
    const record = { bytes: size, mtime_ms: mtimeMs, sha256: SHA, hashed_at: Date.now() };
    await recordHashes(studio().config, new Map([["elsewhere/style.safetensors", record], ["../outside/style.safetensors", record]]));

    expect(await placeFromVolume(job("checkpoints/style_copy.safetensors"))).toBeUndefined();
  });

  it("does not link a link: its target may be anywhere", async () => {
    await onVolume("loras/style.safetensors");
    await symlink(at("loras/style.safetensors"), at("loras/alias.safetensors"));
    const { size, mtimeMs } = await lstat(at("loras/alias.safetensors"));
    await recordHashes(studio().config, new Map([["loras/alias.safetensors", { bytes: size, mtime_ms: mtimeMs, sha256: SHA, hashed_at: Date.now() }]]));
    await rm(at("loras/style.safetensors"));

    expect(await placeFromVolume(job("checkpoints/style_copy.safetensors"))).toBeUndefined();
  });

  it("is downloaded after all when the link fails for another reason, and the log says why", async () => {
    await onVolume("loras/style.safetensors");
    const broken = async () => {
      throw Object.assign(new Error("EIO: i/o error, link"), { code: "EIO" });
    };
    const wanted = job("checkpoints/style_copy.safetensors", { link: broken });

    expect(await placeFromVolume(wanted)).toBeUndefined();

    expect(wanted.lines).toEqual(["style_copy.safetensors: could not put loras/style.safetensors in its place (EIO: i/o error, link); downloading it instead"]);
  });

  it("answers present, leaving it alone, when a file turned up at the target meanwhile", async () => {
    await onVolume("loras/style.safetensors");
    await mkdir(path.dirname(at("checkpoints/style_copy.safetensors")), { recursive: true });
    await writeFile(at("checkpoints/style_copy.safetensors"), "mine");

    expect(await placeFromVolume(job("checkpoints/style_copy.safetensors"))).toBe("present");

    expect(await readFile(at("checkpoints/style_copy.safetensors"), "utf8")).toBe("mine");
  });
});

describe("what the download queue keeps for later", () => {
  it("records a finished download's SHA256 by the size and mtime it has at its name", async () => {
    await onVolume("checkpoints/fresh.safetensors");
    const { size, mtimeMs } = await stat(at("checkpoints/fresh.safetensors"));

    await rememberDownload(studio().config, at("checkpoints/fresh.safetensors"), { bytes: size, mtimeMs, sha256: "b".repeat(64) });

    expect((await readHashCache(studio().config)).files["checkpoints/fresh.safetensors"]).toMatchObject({ bytes: size, mtime_ms: mtimeMs, sha256: "b".repeat(64) });
  });

  it("holds back a queued model whose bytes are already coming, and lets the rest start", () => {
    const models = [
      model("a.safetensors", "checkpoints", { sha256: "A".repeat(64) }),
      model("a_again.safetensors", "loras", { sha256: "a".repeat(64) }),
      model("b.safetensors", "checkpoints", { sha256: "b".repeat(64) }),
      model("b_again.safetensors", "loras", { sha256: "b".repeat(64) }),
      model("c.safetensors", "checkpoints"),
    ];

    expect(notComing(["a_again.safetensors", "b.safetensors", "b_again.safetensors", "c.safetensors"], models, ["a.safetensors"])).toEqual(["b.safetensors", "c.safetensors"]);
  });
});
