import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog, type TestModel } from "../support/catalogs";
import { dirsWithCatalog, fileModel, isAlive, MiB, sha256File, sidecarPids, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { fileSha256, type FileSpec } from "../support/upstream";

/**
 * An upstream that misbehaves across a crash of the sidecar: the file changes (new ETag, same size) while
 * the sidecar is down, the server stops honouring byte ranges, it stalls the first request after the
 * restart; and one that resets connection after connection. Whatever it does, what ends under the final name is the
 * file upstream serves now, byte for byte, and never a mix of two. (test/integration/download-faults.test.ts
 * has the same faults without a crash.)
 */
const slow = { mode: "slow" as const, bytesPerSecond: 3 * MiB };
const specs = {
  changed: { id: "upstream/changed.bin", size: 12 * MiB + 1, ...slow },
  noRange: { id: "upstream/no-range.bin", size: 8 * MiB + 3, ...slow },
  stall: { id: "upstream/stall.bin", size: 8 * MiB + 5, ...slow },
  resets: { id: "upstream/resets.bin", size: 64 * MiB + 7, mode: "drop-half", dropCount: 12 },
} satisfies Record<string, FileSpec>;
type Name = keyof typeof specs;

describe("an upstream that misbehaves across a sidecar crash", () => {
  let own: OwnStack;
  let models: Record<Name, TestModel>;
  const target = (name: Name) => path.join(own.stack.modelsDir, models[name].dest, models[name].file);
  const entryOf = async (name: Name) => (await own.readStatus()).downloads[models[name].file];

  beforeAll(async () => {
    own = await startOwnStack({}, await dirsWithCatalog("models-admin-upstream-", []));
    for (const spec of Object.values(specs)) await own.up.register(spec);
    models = Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, fileModel(own.up, spec.id, `upstream_${name}.safetensors`, "checkpoints")]),
    ) as Record<Name, TestModel>;
    await writeCatalog(own.stack.studioDir, "models", catalog([{ id: "upstream", name: "Upstream", models: Object.values(models) }]));
  });

  afterAll(async () => {
    await own?.close();
  });

  /** Bytes the control file beside `name`'s partial claims: what a successor resumes from. */
  const claimed = async (name: Name) => {
    const control = JSON.parse(await readFile(`${target(name)}.part.json`, "utf8")) as { segments: Array<{ done: number }> };
    return control.segments.reduce((sum, s) => sum + s.done, 0);
  };

  /**
   * Queues `name`, and once `atBytes` are on disk and a checkpoint claims some of them, stops the sidecar, lets `meanwhile` change the upstream
   * while it is down (so that the change is there when its successor resumes), then kills it.
   */
  async function crashDuring(name: Name, atBytes: number, meanwhile: () => Promise<unknown>) {
    await own.call("POST", `/api/admin/models/download/${models[name].file}`);
    await waitFor(async () => (((await entryOf(name))?.bytes_downloaded ?? 0) > atBytes ? true : undefined), `${name} to be under way`, 30_000);
    // a kill before the first checkpoint would leave nothing to resume from, however busy the machine
    await waitFor(async () => ((await claimed(name).catch(() => 0)) > 0 ? true : undefined), `${name} to be checkpointed`, 30_000);
    const pid = sidecarPids(await own.log()).at(-1)!;
    process.kill(pid, "SIGSTOP");
    await meanwhile();
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (isAlive(pid) ? undefined : true), "the sidecar to die");
    return waitFor(
      async () => {
        const entry = await entryOf(name);
        return entry?.status === "done" || entry?.status === "error" ? entry : undefined;
      },
      `${name} to finish after the restart`,
      60_000,
    );
  }

  it("starts over when the file changed upstream (new ETag, same size) while the sidecar was down", async () => {
    const spec = specs.changed;
    const entry = await crashDuring("changed", 4 * MiB, () => own.up.register({ ...spec, seed: 7 }));

    expect(entry.status).toBe("done");
    expect(await sha256File(target("changed"))).toBe(fileSha256(spec.id, spec.size, 7));
    expect(await own.log()).toMatch(/upstream_changed\.safetensors: the upstream file changed since the partial download; starting over/);
  });

  it("starts over when the server stopped honouring byte ranges while the sidecar was down", async () => {
    const spec = specs.noRange;
    const entry = await crashDuring("noRange", 3 * MiB, () => own.up.register({ ...spec, mode: "no-range" }));

    expect(entry.status).toBe("done");
    expect(await sha256File(target("noRange"))).toBe(fileSha256(spec.id, spec.size));
    expect(await own.log()).toMatch(/upstream_noRange\.safetensors: the server does not resume \(no byte ranges\); starting over/);
  });

  it("resumes when the first request after the restart stalls (the probe's, which it does not wait for)", async () => {
    const spec = specs.stall;
    const entry = await crashDuring("stall", 3 * MiB, () => own.up.register({ ...spec, mode: "stall" }));

    expect(entry.status).toBe("done");
    expect(await sha256File(target("stall"))).toBe(fileSha256(spec.id, spec.size));
    // resumed: what was on disk before the crash was not fetched again (stats count from the re-register)
    const stats = await own.up.stats(spec.id);
    expect(stats.bytesSent).toBeLessThan(spec.size);
    expect(stats.gets).toBeGreaterThan(1);
  });

  it("finishes byte-identical over four connections that keep being reset, fetching it about once", async () => {
    const spec = specs.resets;
    await own.call("POST", `/api/admin/models/download/${models.resets.file}`);
    const entry = await waitFor(
      async () => {
        const current = await entryOf("resets");
        return current?.status === "done" || current?.status === "error" ? current : undefined;
      },
      "resets to finish",
      60_000,
    );

    expect(entry.status).toBe("done");
    expect(await sha256File(target("resets"))).toBe(fileSha256(spec.id, spec.size));
    const stats = await own.up.stats(spec.id);
    expect(stats.gets).toBeGreaterThan(12);
    expect(stats.bytesSent).toBeLessThan(spec.size * 1.6);
  });

  it("leaves only whole files behind, and no credential on disk", async () => {
    const files = await readdir(path.join(own.stack.modelsDir, "checkpoints"));

    expect(files.sort()).toEqual(Object.values(models).map((m) => m.file).sort());
    expect(await own.secretsOnDisk()).toEqual([]);
  });
});
