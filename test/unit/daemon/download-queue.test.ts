import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { useStudio } from "../helpers";

const studio = useStudio();
let queueModule: typeof import("../../../lib/daemon/download-queue");
let state: typeof import("../../../lib/state/status");
let config: typeof import("../../../lib/config");

beforeEach(async () => {
  queueModule = await import("../../../lib/daemon/download-queue");
  state = await import("../../../lib/state/status");
  config = await import("../../../lib/config");
});

async function breakCatalog(): Promise<void> {
  await mkdir(studio().catalogsDir, { recursive: true });
  await writeFile(path.join(studio().catalogsDir, "models.json"), '{"version": 21, "categories": [');
}

const queued = (file: string, extra: Record<string, unknown> = {}) =>
  state.updateStatus((status, now) => {
    status.downloads[file] = { status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq: 1, queued_at: now, ...extra };
    return { result: undefined, changed: true };
  });

describe("the sidecar's download queue on a catalog that does not parse", () => {
  it("leaves what is queued queued, and says why once", async () => {
    await breakCatalog();
    await queued("a.safetensors");
    const lines: string[] = [];
    const queue = new queueModule.DownloadQueue(config.parseConfig(), (line) => lines.push(line));

    await queue.tick();
    await queue.tick();

    expect(queue.size).toBe(0);
    expect((await state.readStatus()).downloads["a.safetensors"]?.status).toBe("queued");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^queued downloads wait until the catalog is fixed: Catalog .*models\.json is not valid JSON/);
  });

  it("still recovers after a crash, so that the sidecar starts", async () => {
    await breakCatalog();
    await queued("a.safetensors", { status: "downloading" });
    await queued("b.safetensors", { status: "downloading", cancel: true });
    const lines: string[] = [];
    const queue = new queueModule.DownloadQueue(config.parseConfig(), (line) => lines.push(line));

    await queue.recover();

    const { downloads } = await state.readStatus();
    expect(downloads["a.safetensors"]?.status).toBe("queued");
    expect(downloads["b.safetensors"]).toBeUndefined();
    expect(lines[0]).toMatch(/^could not read the catalog: Catalog .*models\.json is not valid JSON/);
  });
});
