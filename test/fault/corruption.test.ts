import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, catalogFile, writeCatalog, type TestModel } from "../support/catalogs";
import { dirsWithCatalog, fileModel, isAlive, jsonPoller, MiB, sha256File, sidecarPids, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { fileSha256, type FileSpec } from "../support/upstream";

/**
 * Files corrupted by hand (or by a bad disk) under the running stack: the status file, the activity log,
 * a download's control file and the catalog. The service recovers what can be recovered, moves the bad
 * file aside and says so in the log, and loses nothing else. The catalog is the user's own document: it
 * is reported, never overwritten, and fixing it by hand restores service without a restart.
 */
const specs = {
  running: { id: "corrupt/running.bin", size: 12 * MiB + 11, mode: "slow", bytesPerSecond: 2 * MiB },
  quick: { id: "corrupt/quick.bin", size: 2 * MiB + 3 },
  control: { id: "corrupt/control.bin", size: 12 * MiB + 5, mode: "slow", bytesPerSecond: 3 * MiB },
  first: { id: "corrupt/first.bin", size: 8 * MiB + 1, mode: "slow", bytesPerSecond: 2 * MiB },
  waiting: { id: "corrupt/waiting.bin", size: 3 * MiB + 9 },
} satisfies Record<string, FileSpec>;
type Name = keyof typeof specs;

describe("files corrupted under the running stack", () => {
  let own: OwnStack;
  let models: Record<Name, TestModel>;
  let poller: ReturnType<typeof jsonPoller>;
  const stateDir = () => path.join(own.stack.studioDir, "state");
  const target = (name: Name) => path.join(own.stack.modelsDir, models[name].dest, models[name].file);
  const entryOf = async (name: Name) => (await own.readStatus()).downloads[models[name].file];
  const settled = (name: Name, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const entry = await entryOf(name);
        return entry?.status === "done" || entry?.status === "error" ? entry : undefined;
      },
      `${name} to finish`,
      timeoutMs,
    );
  const queue = (name: Name) => own.call("POST", `/api/admin/models/download/${models[name].file}`);
  const aside = async (prefix: string, dir = stateDir()) => (await readdir(dir)).filter((f) => f.startsWith(`${prefix}.corrupt-`));
  /**
   * Writes `text` over the status file, as a person editing it would, until the service has moved a
   * spoilt file aside: a write that lands while the sidecar is in the middle of its own is replaced by it.
   */
  const spoilStatus = async (text: string) => {
    const before = (await aside("status.json")).length;
    for (let attempt = 0; ; attempt++) {
      await writeFile(own.statusFile, text);
      const moved = await waitFor(async () => ((await aside("status.json")).length > before ? true : undefined), "status.json to be moved aside", 2_000).catch(
        (error: unknown) => {
          if (attempt >= 4) throw error;
          return false;
        },
      );
      if (moved) return (await aside("status.json")).sort().at(-1)!;
    }
  };
  const goodCatalog = () => catalog([{ id: "corrupt", name: "Corrupt", models: Object.values(models) }]);

  beforeAll(async () => {
    // one download at a time: a second one queued waits behind the first
    own = await startOwnStack({ MAX_CONCURRENT_DOWNLOADS: "1" }, await dirsWithCatalog("models-admin-corrupt-", []));
    for (const spec of Object.values(specs)) await own.up.register(spec);
    models = Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, fileModel(own.up, spec.id, `corrupt_${name}.safetensors`, "checkpoints")]),
    ) as Record<Name, TestModel>;
    await writeCatalog(own.stack.studioDir, "models", goodCatalog());
    // hand edits make the file unparsable on purpose; but there is always a file to read
    await own.call("GET", "/api/admin/models");
    await waitFor(() => own.heartbeat(), "a first heartbeat");
    poller = jsonPoller(own.statusFile);
  });

  afterAll(async () => {
    await own?.close();
  });

  it("moves a status file that is not JSON aside, logs it, and the running download finishes", async () => {
    await queue("running");
    await waitFor(async () => ((await entryOf("running"))?.bytes_downloaded ?? 0) > 2 * MiB || undefined, "running to be under way");

    const moved = await spoilStatus('{"downloads": {"corrupt_running.safetensors": {"status": "downl');

    expect(await readFile(path.join(stateDir(), moved), "utf8")).toMatch(/^\{"downloads": \{"corrupt_running/);
    expect(await own.log()).toMatch(/status\.json was not valid JSON \(.*\); moved it to .*status\.json\.corrupt-/);
    // the sidecar knows what it is doing and writes it back
    expect((await settled("running")).status).toBe("done");
    expect(await sha256File(target("running"))).toBe(fileSha256(specs.running.id, specs.running.size));
    const listed = await own.call<{ stats: { daemon_running: boolean } }>("GET", "/api/admin/models");
    expect(listed.status).toBe(200);
    expect(listed.json.stats.daemon_running).toBe(true);
  });

  it("keeps every good entry of a status file that one bad entry spoils", async () => {
    await queue("quick");
    expect((await settled("quick")).status).toBe("done");
    const status = JSON.parse(await readFile(own.statusFile, "utf8")) as { downloads: Record<string, Record<string, unknown>> };
    status.downloads[models.running.file]!.status = "flying";

    await spoilStatus(JSON.stringify(status));

    const kept = await own.readStatus();
    expect(kept.downloads[models.quick.file]?.status).toBe("done");
    expect(kept.downloads[models.running.file]).toBeUndefined();
    expect(await own.log()).toMatch(/status\.json was not of the expected shape \(downloads\.corrupt_running\.safetensors\.status: .*with the entries that were still good/);
  });

  it("reads what is good of an activity log and moves a corrupt one aside on the next change", async () => {
    const logFile = path.join(stateDir(), "activity-log.json");
    const good = { time: "12:00:00", message: "OK -- a.safetensors: base_model=SDXL 1.0", level: "ok" };
    await writeFile(logFile, JSON.stringify([good, { time: "12:00:01", message: 42, level: "ok" }]));

    const read = await own.call("GET", "/api/admin/activity-log");
    expect(read.status).toBe(200);
    expect(read.json).toEqual([good]);

    await writeFile(logFile, '[{"time": "12:00:00", "mess');
    expect((await own.call("GET", "/api/admin/activity-log")).json).toEqual([]);
    const cleared = await own.call("POST", "/api/admin/activity-log/clear");

    expect(cleared.status).toBe(200);
    expect(await aside("activity-log.json")).toHaveLength(1);
    expect(JSON.parse(await readFile(logFile, "utf8"))).toEqual([]);
    expect(await own.log()).toMatch(/activity-log\.json was not valid JSON \(.*\); moved it to .*activity-log\.json\.corrupt-/);
  });

  it("moves a corrupt control file aside, logs it, and downloads the file whole again", async () => {
    const control = `${target("control")}.part.json`;
    await queue("control");
    await waitFor(
      async () => (((await entryOf("control"))?.bytes_downloaded ?? 0) > 3 * MiB && (await readFile(control, "utf8")) ? true : undefined),
      "control to be under way",
    );
    const pid = sidecarPids(await own.log()).at(-1)!;

    process.kill(pid, "SIGKILL");
    await waitFor(async () => (isAlive(pid) ? undefined : true), "the sidecar to die");
    await writeFile(control, '{"version": 1, "key": "url:http://127.0.0.1/files/corrupt/control.bin", "size": 12582917, "segm');

    expect((await settled("control")).status).toBe("done");
    expect(await sha256File(target("control"))).toBe(fileSha256(specs.control.id, specs.control.size));
    expect(await own.log()).toMatch(
      /corrupt_control\.safetensors: the control file corrupt_control\.safetensors\.part\.json was not valid JSON \(.*\); moved it to corrupt_control\.safetensors\.part\.json\.corrupt-\S+ and started over/,
    );
    const dir = path.dirname(target("control"));
    expect(await aside("corrupt_control.safetensors.part.json", dir)).toHaveLength(1);
    expect((await readdir(dir)).filter((f) => f.endsWith(".part") || f.endsWith(".part.json"))).toEqual([]);
  });

  it("reports a catalog that does not parse, never overwrites it, keeps the rest working, and recovers once it is fixed", async () => {
    const file = catalogFile(own.stack.studioDir, "models");
    const broken = '{"version": 21, "categories": [{"id": "corrupt", "models": [';
    await queue("first");
    await queue("waiting");
    await waitFor(async () => ((await entryOf("first"))?.bytes_downloaded ?? 0) > 1 * MiB || undefined, "first to be under way");

    await writeFile(file, broken);

    const listed = await own.call<{ detail: string }>("GET", "/api/admin/models");
    expect(listed.status).toBe(500);
    expect(listed.json.detail).toMatch(/^Catalog .*models\.json is not valid JSON \(.*\); fix or replace it, it is never overwritten$/);
    const events = await own.call("GET", "/api/admin/models/status?max_seconds=1");
    expect(events.status).toBe(200);
    expect(events.text).toMatch(/^data: \{"downloads":\{.*"corrupt_first\.safetensors":\{"status":"downloading"/m);
    expect((await own.call("GET", "/api/admin/activity-log")).status).toBe(200);
    // a sidecar restarted now must come up, and leave what is queued queued
    const pid = sidecarPids(await own.log()).at(-1)!;
    process.kill(pid, "SIGKILL");
    await waitFor(async () => sidecarPids(await own.log()).filter((p) => p !== pid && isAlive(p)).at(-1), "the sidecar to be restarted", 20_000);
    await waitFor(async () => (/queued downloads wait until the catalog is fixed: Catalog .*models\.json is not valid JSON/.test(await own.log()) ? true : undefined), "the sidecar to say why downloads wait");
    const waiting = await own.readStatus();
    expect([waiting.downloads[models.first.file]?.status, waiting.downloads[models.waiting.file]?.status]).toEqual(["queued", "queued"]);
    expect(await readFile(file, "utf8")).toBe(broken);

    await writeCatalog(own.stack.studioDir, "models", goodCatalog());

    expect((await own.call("GET", "/api/admin/models")).status).toBe(200);
    expect((await settled("first")).status).toBe("done");
    expect((await settled("waiting")).status).toBe("done");
    expect(await sha256File(target("first"))).toBe(fileSha256(specs.first.id, specs.first.size));
    expect(await own.log()).toMatch(/the catalog reads again; queued downloads go on/);
  });

  it("never leaves the status file missing, and writes no credential to disk", async () => {
    const { missing } = await poller.stop();

    expect(missing).toBe(0);
    expect(await own.secretsOnDisk()).toEqual([]);
  });
});
