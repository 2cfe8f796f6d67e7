/**
 * DELETE of a download left "downloading" by a sidecar that is gone: nobody holds its file, so the API
 * clears it at once. Whether the sidecar is gone is for its heartbeat (state/sidecar.json) to say, read
 * after the entry was: a sidecar started meanwhile, which queued the download again and claimed it, is
 * asked to stop it instead, as any running sidecar is.
 */
import { lstat, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import * as queue from "../../../lib/downloads/request";
import { withFileLock } from "../../../lib/fs/lock";
import * as state from "../../../lib/state/status";
import { catalogDoc, category, model, useStudio, writeCatalog } from "../helpers";
import type { DownloadEntry } from "../../../lib/state/status";

const studio = useStudio();

beforeEach(async () => {
  await writeCatalog(studio(), "models", catalogDoc([category("sd15", [model("a.safetensors")])]));
});

const FILE = "a.safetensors";
const target = path.join("checkpoints", FILE);
const partial = () => path.join(studio().modelsDir, `${target}.part`);
const exists = (file: string) => lstat(file).then(() => true, () => false);
const downloading = (seq: number): DownloadEntry => ({ status: "downloading", bytes_downloaded: 10, bytes_total: 100, speed: 5, percent: 10, seq, queued_at: Date.now() });

/** The heartbeat of a sidecar that last beat `agoMs` ago. */
async function beat(agoMs: number): Promise<void> {
  const now = Date.now();
  await mkdir(path.join(studio().studioDir, "state"), { recursive: true });
  await writeFile(path.join(studio().studioDir, "state", "sidecar.json"), JSON.stringify({ pid: 999_999, heartbeat: now - agoMs, started_at: now - 60_000 }));
}

async function plant(entry: DownloadEntry): Promise<void> {
  await state.updateStatus(studio().config, (status) => {
    status.downloads[FILE] = entry;
    return { result: undefined, changed: true };
  });
  await mkdir(path.dirname(partial()), { recursive: true });
  await writeFile(partial(), "partial bytes");
}

describe("deleteModel of a download whose sidecar is gone", () => {
  it("asks a sidecar started since to stop it, once that one has queued it again and claimed it", async () => {
    await plant(downloading(1));
    await beat(60_000);
    let deleting!: Promise<unknown>;
    // The status lock is held while the DELETE reads the entry and the dead sidecar's heartbeat and then
    // waits to write. Meanwhile a new sidecar starts: it beats, queues the download again ahead of the
    // rest (another seq) and claims it.
    await withFileLock(state.statusPath(studio().config), async (lease) => {
      deleting = queue.deleteModel(studio(), FILE).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await beat(0);
      await lease.write(JSON.stringify({ downloads: { [FILE]: downloading(-999_999) }, metadata: {} }));
    });
    // the new sidecar, once asked: stops, removes the partial, then the entry
    let asked = false;
    let over = false;
    const sidecar = (async () => {
      while (!(asked = (await state.readStatus(studio().config)).downloads[FILE]?.cancel === true)) {
        if (over) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await rm(partial(), { force: true });
      await state.updateStatus(studio().config, (status) => {
        delete status.downloads[FILE];
        return { result: undefined, changed: true };
      });
    })();

    const answer = await deleting;
    over = true;
    await sidecar;

    expect(asked).toBe(true);
    expect(answer).toEqual({ status: "deleted", file: FILE });
    expect(await exists(partial())).toBe(false);
  });
});
