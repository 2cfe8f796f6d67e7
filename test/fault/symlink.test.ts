import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog, type TestModel } from "../support/catalogs";
import type { ApiReply } from "../support/client";
import { isAlive, waitFor } from "../support/fault-kit";
import { holdSidecar } from "../support/held-sidecar";
import { pathsUnder } from "../support/hostile-http";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { tempDirs, type StackDirs } from "../support/stack";
import { fileSha256 } from "../support/upstream";

/**
 * Links planted in the models folder that lead out of it. README: "A link at the model's path is removed
 * itself; its target is never touched." A download never writes through a link: one at the model's path
 * is replaced by the finished file (or, when it leads to a file, counts as the model being present), and
 * a folder on the way that leads out of $MODELS_DIR is refused (409 for a delete, an error for a download).
 * That holds too for a folder swapped for such a link after a download started: its cancel and the
 * sidecar's recovery after a crash remove nothing through it.
 */
const SIZE = 256 * 1024;
const PRECIOUS = "outside the models folder: never touched";

describe("links planted in the models folder", () => {
  let own: OwnStack;
  let dirs: StackDirs;
  let outsideFile: string;
  let outsideDir: string;
  let outsideBefore: Map<string, string>;
  const entries: Record<string, TestModel> = {};

  const entry = (name: string, file: string, dest: string): TestModel => {
    const model: TestModel = { name, file, dest, source: "url", url: "set below", size_gb: SIZE / 1024 ** 3 };
    entries[name] = model;
    return model;
  };
  const linkedFile = entry("linked-file", "linked_file.safetensors", "checkpoints");
  const dangling = entry("dangling", "dangling.safetensors", "checkpoints");
  const toFolder = entry("to-folder", "to_folder.safetensors", "checkpoints");
  const throughDir = entry("through-dir", "through_dir.safetensors", "linked_out");
  const nested = entry("nested", "nested.safetensors", "linked_out/sub/deeper");
  const partLink = entry("part-link", "part_link.safetensors", "checkpoints");
  const inside = entry("inside", "inside.safetensors", "linked_in");
  const partOutside = entry("part-outside", "part_outside.safetensors", "linked_out");
  const at = (model: TestModel) => path.join(dirs.modelsDir, model.dest, model.file);

  /** Everything outside the models folder, with its content: what no request may change. */
  const outsideState = async () => {
    const state = new Map<string, string>();
    for (const entryPath of [...(await pathsUnder(outsideDir)), outsideFile]) {
      const info = await lstat(entryPath).catch(() => undefined);
      state.set(entryPath, info?.isFile() ? await readFile(entryPath, "utf8") : info?.isDirectory() ? "dir" : String(info));
    }
    return state;
  };

  const waitForDownload = async (file: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await own.readStatus()).downloads[file];
      if (state && (state.status === "done" || state.status === "error")) return state;
      if (Date.now() > deadline) throw new Error(`${file}: still ${state?.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    dirs = await tempDirs("models-admin-symlink-");
    outsideFile = path.join(dirs.root, "outside.safetensors");
    outsideDir = path.join(dirs.root, "outside-dir");
    await mkdir(outsideDir, { recursive: true });
    await writeFile(outsideFile, PRECIOUS);
    // a file of the model's name already there: a delete through the linked folder would remove it
    await writeFile(path.join(outsideDir, throughDir.file), PRECIOUS);
    await writeFile(path.join(outsideDir, `${throughDir.file}.part`), PRECIOUS);
    // and a partial of one that is not there: removing it from the catalog would clear it through the link
    await writeFile(path.join(outsideDir, `${partOutside.file}.part`), PRECIOUS);
    await mkdir(path.join(dirs.modelsDir, "checkpoints"), { recursive: true });
    await mkdir(path.join(dirs.modelsDir, "real_inside"), { recursive: true });
    await symlink(outsideFile, at(linkedFile));
    await symlink(path.join(dirs.root, "not-there.safetensors"), at(dangling));
    await symlink(outsideDir, at(toFolder));
    await symlink(outsideDir, path.join(dirs.modelsDir, "linked_out"));
    await symlink(path.join(dirs.modelsDir, "real_inside"), path.join(dirs.modelsDir, "linked_in"));
    await symlink(outsideFile, `${at(partLink)}.part`);
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "links", name: "Links", models: Object.values(entries) }]));

    own = await startOwnStack({}, dirs);
    for (const model of Object.values(entries)) {
      await own.up.register({ id: `links/${model.file}`, size: SIZE });
      model.url = own.up.fileUrl(`links/${model.file}`);
      model.sha256 = fileSha256(`links/${model.file}`, SIZE);
    }
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "links", name: "Links", models: Object.values(entries) }]));
    outsideBefore = await outsideState();
  });

  afterAll(async () => {
    if (!own) return;
    const hits = await own.secretsOnDisk();
    await own.close();
    expect(hits).toEqual([]);
  });

  it("lists a link to a file as present and a link to nothing or to a folder as not downloaded", async () => {
    const { status, json } = await own.call<{ categories: { models: { file: string; status: string }[] }[] }>("GET", "/api/admin/models");

    expect(status).toBe(200);
    const listed = Object.fromEntries(json.categories.flatMap((c) => c.models).map((m) => [m.file, m.status]));
    expect(listed[linkedFile.file]).toBe("present");
    expect(listed[dangling.file]).toBe("not_downloaded");
    expect(listed[toFolder.file]).toBe("not_downloaded");
  });

  it("answers present for a link to a file and downloads nothing through it", async () => {
    const { status, json } = await own.call("POST", `/api/admin/models/download/${linkedFile.file}`);

    expect(status).toBe(200);
    expect(json).toEqual({ status: "present", file: linkedFile.file });
    expect(await outsideState()).toEqual(outsideBefore);
  });

  it("removes the link itself on DELETE and leaves its target as it was", async () => {
    const { status } = await own.call("DELETE", `/api/admin/models/${linkedFile.file}`);

    expect(status).toBe(200);
    expect(await lstat(at(linkedFile)).catch(() => undefined)).toBeUndefined();
    expect(await readFile(outsideFile, "utf8")).toBe(PRECIOUS);
  });

  it("refuses to delete through a folder that links out of the models folder (409)", async () => {
    const { status, json } = await own.call<{ detail: string }>("DELETE", `/api/admin/models/${throughDir.file}`);

    expect(status).toBe(409);
    expect(json.detail).toMatch(/outside the models folder/);
    expect(await outsideState()).toEqual(outsideBefore);
  });

  it("answers present for a file reached through a folder that links out, and writes nothing there", async () => {
    // reading through links is how a pod shares a models disk; only writes and deletes stay inside
    const { status, json } = await own.call("POST", `/api/admin/models/download/${throughDir.file}`);

    expect(status).toBe(200);
    expect(json).toEqual({ status: "present", file: throughDir.file });
    expect(await outsideState()).toEqual(outsideBefore);
  });

  it("never downloads through a folder that links out: the download fails and nothing appears outside", async () => {
    const queued = await own.call("POST", `/api/admin/models/download/${nested.file}`);
    const settled = await waitForDownload(nested.file);

    expect(queued.status).toBe(200);
    expect(settled.status).toBe("error");
    expect(settled.error).toMatch(/outside the models folder/);
    expect(await outsideState()).toEqual(outsideBefore);
    expect((await own.up.stats(`links/${nested.file}`)).requests).toBe(0);
  });

  it.each([
    ["a dangling link", () => dangling],
    ["a link to a folder outside", () => toFolder],
  ])("replaces %s at the model's path with the downloaded file, never writing to its target", async (_what, model) => {
    const { file } = model();
    const linkTarget = await readlink(at(model()));

    await own.call("POST", `/api/admin/models/download/${file}`);
    const settled = await waitForDownload(file);

    expect(settled.status).toBe("done");
    const now = await lstat(at(model()));
    expect(now.isFile() && !now.isSymbolicLink()).toBe(true);
    expect(now.size).toBe(SIZE);
    expect(await outsideState()).toEqual(outsideBefore);
    expect(await lstat(linkTarget).then((s) => (s.isDirectory() ? "dir" : "file")).catch(() => "absent")).toBe(
      linkTarget === outsideDir ? "dir" : "absent",
    );
  });

  it("never writes through a link planted where the partial goes", async () => {
    await own.call("POST", `/api/admin/models/download/${partLink.file}`);
    const settled = await waitForDownload(partLink.file);

    // refused in words, never written through
    expect(settled.status).toBe("error");
    expect(settled.error).toMatch(/^A link sits where the download is written \(.*part_link\.safetensors\.part\); it is never written through/);
    expect(await readFile(outsideFile, "utf8")).toBe(PRECIOUS);
    expect(await outsideState()).toEqual(outsideBefore);
  });

  it("downloads through a folder that links inside the models folder", async () => {
    await own.call("POST", `/api/admin/models/download/${inside.file}`);
    const settled = await waitForDownload(inside.file);

    expect(settled.status).toBe("done");
    expect((await lstat(path.join(dirs.modelsDir, "real_inside", inside.file))).size).toBe(SIZE);
  });

  it("removes from the catalog a model whose folder links out, and clears nothing there", async () => {
    const { status } = await own.call("DELETE", `/api/admin/models/${partOutside.file}/catalog`);

    expect(status).toBe(200);
    expect(await outsideState()).toEqual(outsideBefore);
  });

  it("left nothing new beside the links' targets", async () => {
    expect((await readdir(outsideDir)).sort()).toEqual([throughDir.file, `${throughDir.file}.part`, `${partOutside.file}.part`].sort());
    expect(await outsideState()).toEqual(outsideBefore);
  });
});

describe("a model's folder swapped for a link out of the models folder while its download stops", () => {
  let own: OwnStack;
  let dirs: StackDirs;
  let outsideDir: string;
  // the download waits for an answer that never comes, so nothing of it is on disk yet but its folder
  const hanging = (name: string): TestModel => ({ name, file: `${name}.safetensors`, dest: `swapped/${name}`, source: "url", url: "set below" });
  const cancelled = hanging("cancel_late");
  const recovered = hanging("recover_late");
  // files of the models' names where the link leads: what a delete or a partial's removal would take
  const precious = (model: TestModel) => [model.file, `${model.file}.part`, `${model.file}.part.json`].map((name) => path.join(outsideDir, name));
  const outsideContent = async (model: TestModel) =>
    Promise.all(precious(model).map((file) => readFile(file, "utf8").catch(() => "<gone>")));
  const entryOf = async (file: string) => (await own.readStatus()).downloads[file] as { status: string; cancel?: boolean } | undefined;

  /**
   * Starts `model`'s download, holds the sidecar, sends the DELETE that asks it to stop, and once the cancel
   * is in the status file swaps the model's folder for a link out of the models folder. Returns the
   * DELETE in flight and the held sidecar's pid.
   */
  const cancelThenSwap = async (model: TestModel): Promise<{ deleting: Promise<ApiReply<{ detail?: string }>>; pid: number }> => {
    const folder = path.join(dirs.modelsDir, model.dest);
    await own.call("POST", `/api/admin/models/download/${model.file}`);
    await waitFor(async () => ((await entryOf(model.file))?.status === "downloading" ? true : undefined), `${model.file} downloading`);
    await waitFor(async () => ((await own.up.log()).some((entry) => entry.path === `/hang/${model.file}`) ? true : undefined), "the upstream asked");
    await waitFor(() => lstat(folder), `${model.file}'s folder`);
    const pid = (await own.heartbeat())!.pid;
    await holdSidecar(pid, dirs.studioDir);
    const deleting = own.call<{ detail?: string }>("DELETE", `/api/admin/models/${model.file}`);
    await waitFor(async () => ((await entryOf(model.file))?.cancel ? true : undefined), `${model.file}'s cancel`);
    await rm(folder, { recursive: true });
    await symlink(outsideDir, folder);
    return { deleting, pid };
  };

  beforeAll(async () => {
    dirs = await tempDirs("models-admin-symlink-swap-");
    outsideDir = path.join(dirs.root, "other-disk");
    await mkdir(outsideDir, { recursive: true });
    for (const model of [cancelled, recovered]) for (const file of precious(model)) await writeFile(file, PRECIOUS);
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "swap", name: "Swap", models: [] }]));
    own = await startOwnStack({}, dirs);
    for (const model of [cancelled, recovered]) {
      await own.up.can({ path: `/hang/${model.file}`, delayMs: 60_000 });
      model.url = `${own.upstream.url}/hang/${model.file}`;
    }
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "swap", name: "Swap", models: [cancelled, recovered] }]));
  });

  afterAll(async () => {
    await own?.close();
  });

  it("cancels, and removes nothing through the link: the DELETE answers 409", async () => {
    const { deleting, pid } = await cancelThenSwap(cancelled);
    process.kill(pid, "SIGCONT");
    const answer = await deleting;

    expect(await outsideContent(cancelled)).toEqual([PRECIOUS, PRECIOUS, PRECIOUS]);
    expect(answer.status).toBe(409);
    expect(answer.json.detail).toBe("'swapped/cancel_late' leads outside the models folder through a link; refusing to touch 'cancel_late.safetensors' there");
    expect(await entryOf(cancelled.file)).toBeUndefined();
    expect(await own.log()).toContain("cancel_late.safetensors: cancelled; partial data not removed: 'swapped/cancel_late' leads outside");
  });

  it("removes nothing through the link when a sidecar that died before the cancel restarts", async () => {
    const { deleting, pid } = await cancelThenSwap(recovered);
    process.kill(pid, "SIGKILL");
    // npm start restarts the sidecar, whose recovery drops the cancelled download
    await waitFor(async () => {
      const [status, beat] = await Promise.all([own.readStatus(), own.heartbeat()]);
      const restarted = beat !== undefined && beat.pid !== pid && isAlive(beat.pid);
      return restarted && status.downloads[recovered.file] === undefined ? true : undefined;
    }, "the restarted sidecar's recovery", 30_000);
    // the DELETE saw the download stop in time (409), or gave up waiting for the dead sidecar (503)
    const answer = await deleting;

    expect(await outsideContent(recovered)).toEqual([PRECIOUS, PRECIOUS, PRECIOUS]);
    expect([409, 503]).toContain(answer.status);
    expect(await own.log()).toContain("recover_late.safetensors: cancelled before the restart; partial data not removed: 'swapped/recover_late' leads outside");
  });
});
