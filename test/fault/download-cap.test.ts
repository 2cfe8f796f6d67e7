/**
 * The bandwidth cap, measured: three downloads at once from an unthrottled local upstream (which alone would
 * give each of them hundreds of MB/s), with a cap of 8 MiB/s for about 16 s. The bytes written come from
 * status.json, each sample timed by the file's mtime (the sidecar writes progress twice a second), so a
 * 10-second window is measured between two of the sidecar's own writes. Every window must be within 10% of
 * the cap, and each download must move in each. Then the cap is raised under the running downloads, and
 * must hold at its new value within 2 s. The figures are printed.
 */
import { open } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog } from "../support/catalogs";
import { dirsWithCatalog, fileModel, MiB, sleep, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";

const CAP = 8 * MiB;
const RAISED = 16 * MiB;
const MEASURE_MS = 16_000;
const WINDOW_MS = 10_000;

const specs = ["cap-a", "cap-b", "cap-c"].map((name) => ({ id: `cap/${name}.bin`, file: `${name}.safetensors`, size: 160 * MiB }));

interface Sample {
  /** The status file's mtime: when the sidecar wrote these figures. */
  at: number;
  bytes: number[];
}

describe("the bandwidth cap (max_bytes_per_second)", () => {
  let own: OwnStack;

  beforeAll(async () => {
    own = await startOwnStack({ MAX_CONCURRENT_DOWNLOADS: "3", DOWNLOAD_CONNECTIONS: "4" }, await dirsWithCatalog("models-admin-cap-", []));
    for (const spec of specs) await own.up.register({ id: spec.id, size: spec.size });
    const models = specs.map((spec) => fileModel(own.up, spec.id, spec.file, "checkpoints"));
    await writeCatalog(own.stack.studioDir, "models", catalog([{ id: "cap", name: "Cap", models }]));
  });

  afterAll(async () => {
    await own?.close();
  });

  /** The status file as the sidecar last wrote it, and when. */
  async function sample(): Promise<Sample> {
    const handle = await open(own.statusFile);
    try {
      const [text, stat] = await Promise.all([handle.readFile("utf8"), handle.stat()]);
      const downloads = (JSON.parse(text) as { downloads: Record<string, { bytes_downloaded: number }> }).downloads;
      return { at: stat.mtimeMs, bytes: specs.map((spec) => downloads[spec.file]?.bytes_downloaded ?? 0) };
    } finally {
      await handle.close();
    }
  }

  /** Samples every 250 ms for `ms`; one per write of the sidecar. */
  async function samples(ms: number): Promise<Sample[]> {
    const taken: Sample[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const next = await sample();
      if (taken.at(-1)?.at !== next.at) taken.push(next);
      await sleep(250);
    }
    return taken;
  }

  /** Every window of at least `WINDOW_MS` between two samples: its rate in bytes/s, and each download's bytes in it. */
  function windows(taken: Sample[]): { rate: number; each: number[]; seconds: number }[] {
    return taken.flatMap((first, i) => {
      const last = taken.slice(i + 1).find((s) => s.at - first.at >= WINDOW_MS);
      if (!last) return [];
      const each = last.bytes.map((b, k) => b - first.bytes[k]!);
      const seconds = (last.at - first.at) / 1000;
      return [{ rate: each.reduce((a, b) => a + b, 0) / seconds, each, seconds }];
    });
  }

  const mibps = (rate: number) => `${(rate / MiB).toFixed(2)} MiB/s`;

  it("holds three downloads together within 10% of the cap over every 10-second window, each of them moving", async () => {
    expect((await own.call("PUT", "/api/admin/downloads/settings", { json: { max_bytes_per_second: CAP } })).status).toBe(200);
    for (const spec of specs) expect((await own.call("POST", `/api/admin/models/download/${spec.file}`)).status).toBe(200);
    await waitFor(async () => ((await sample()).bytes.every((b) => b > 0) ? true : undefined), "all three downloads to move", 15_000);

    const taken = await samples(MEASURE_MS);
    const measured = windows(taken);
    const rates = measured.map((w) => w.rate);
    const total = taken.at(-1)!.bytes.reduce((a, b) => a + b, 0) - taken[0]!.bytes.reduce((a, b) => a + b, 0);
    const overall = total / ((taken.at(-1)!.at - taken[0]!.at) / 1000);
    const shares = specs.map((_, k) => (taken.at(-1)!.bytes[k]! - taken[0]!.bytes[k]!) / total);
    console.log(
      `cap ${mibps(CAP)}: ${taken.length} samples over ${((taken.at(-1)!.at - taken[0]!.at) / 1000).toFixed(1)} s, ${measured.length} windows of >= 10 s; ` +
        `min ${mibps(Math.min(...rates))}, max ${mibps(Math.max(...rates))}, overall ${mibps(overall)} ` +
        `(${(((overall - CAP) / CAP) * 100).toFixed(2)}% off); shares ${shares.map((s) => `${(s * 100).toFixed(1)}%`).join(" / ")}`,
    );

    expect(measured.length).toBeGreaterThanOrEqual(10);
    for (const window of measured) {
      expect(Math.abs(window.rate - CAP) / CAP).toBeLessThanOrEqual(0.1);
      for (const bytes of window.each) expect(bytes).toBeGreaterThan(0);
    }
    // nobody starved: each has at least a sixth of the budget (a third would be perfectly even)
    for (const share of shares) expect(share).toBeGreaterThan(1 / 6);
  }, 60_000);

  it("takes a raised cap under the running downloads within 2 s", async () => {
    expect((await own.call("PUT", "/api/admin/downloads/settings", { json: { max_bytes_per_second: RAISED } })).status).toBe(200);
    await sleep(2_000);

    const taken = await samples(4_500);
    const seconds = (taken.at(-1)!.at - taken[0]!.at) / 1000;
    const rate = (taken.at(-1)!.bytes.reduce((a, b) => a + b, 0) - taken[0]!.bytes.reduce((a, b) => a + b, 0)) / seconds;
    console.log(`raised to ${mibps(RAISED)}: ${mibps(rate)} over the ${seconds.toFixed(1)} s from 2 s after the PUT`);

    expect(Math.abs(rate - RAISED) / RAISED).toBeLessThanOrEqual(0.1);
  }, 30_000);
});
