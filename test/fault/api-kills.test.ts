/**
 * SIGKILL the API process (serverless-offline, whose handlers write the catalog and the status file) in
 * the middle of a burst of writes: the supervisor brings it back, no file is ever half written or left
 * behind as a temp file, every write that was answered stands, and the lock the dead process held blocks
 * the next writer for a few seconds at most: nobody gets a 503, and the sidecar's heartbeat never lapses.
 * The kill is aimed: it comes as soon as one of the API's writes has its temp file, and it counts only
 * when that process's temp file is still there after it died, a write cut between its start and its rename.
 */
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, catalogFile, writeCatalog, type TestModel } from "../support/catalogs";
import { uploadForm } from "../support/client";
import { dirsWithCatalog, fileModel, isAlive, jsonPoller, seededRandom, sleep, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";

const MAX_KILLS = 3;

/** Every API pid the log announced, oldest first. */
const apiPids = (log: string): number[] =>
  [...log.matchAll(/API \(serverless-offline\) (?:pid|is running again \(pid) (\d+)/g)].map((m) => Number(m[1]));

describe("an API process killed during writes", () => {
  let own: OwnStack;
  let failing: TestModel[];
  const random = seededRandom("api-kills");

  beforeAll(async () => {
    own = await startOwnStack({}, await dirsWithCatalog("models-admin-apikills-", []));
    // downloads that fail at once upstream: every queue request is a status write, and can be made again
    const ids = Array.from({ length: 6 }, (_, i) => `apikills/missing-${i}.bin`);
    failing = ids.map((id, i) => fileModel(own.up, id, `missing_${i}.safetensors`));
    for (const id of ids) await own.up.register({ id, size: 1024, mode: "status-404" });
    await writeCatalog(own.stack.studioDir, "models", catalog([{ id: "api", name: "API", models: failing }]));
  });

  afterAll(async () => {
    await own?.close();
  });

  /** The temp files of writes of the catalog or the status file by process `pid`, there now. */
  async function writesInFlight(pid: number): Promise<string[]> {
    const dirs = [path.dirname(catalogFile(own.stack.studioDir, "models")), path.dirname(own.statusFile)];
    const names = (await Promise.all(dirs.map((dir) => readdir(dir).catch(() => [] as string[])))).flat();
    return names.filter((name) => new RegExp(`^\\.(models|status)\\.json\\.${pid}\\.[0-9a-f]{8}\\.tmp$`).test(name));
  }

  /**
   * Kills the API now serving as soon as one of its writes is under way (or after `withinMs` anyway), and
   * waits until a new one answers. `cut`: its temp files left behind, the writes the kill interrupted.
   */
  async function killApiInWrite(withinMs = 5_000): Promise<{ pid: number; backAfterMs: number; cut: string[] }> {
    const pid = apiPids(await own.log()).at(-1)!;
    const until = Date.now() + withinMs;
    while ((await writesInFlight(pid)).length === 0 && Date.now() < until) await new Promise(setImmediate);
    const killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    // nobody removes a temp file of the dead process before its lock goes stale (5 s): a look now sees it
    const cut = await writesInFlight(pid);
    await waitFor(async () => apiPids(await own.log()).filter((p) => p !== pid && isAlive(p)).at(-1), "the API to be restarted", 30_000);
    await waitFor(async () => ((await own.call("GET", "/api/admin/models")).status === 200 ? true : undefined), "the API to answer again", 30_000);
    return { pid, backAfterMs: Date.now() - killedAt, cut };
  }

  /** What a request got: "ok", "restarting" (the front door's 503 while the API is down), or the refusal. */
  const outcome = ({ status, json }: { status: number; json: unknown }): string => {
    const detail = (json as { detail?: unknown } | undefined)?.detail;
    if (status === 200) return "ok";
    if (status === 503 && typeof detail === "string" && /starting or restarting/.test(detail)) return "restarting";
    return `${status} ${JSON.stringify(detail)}`;
  };

  /** Runs `write` from `workers` loops until `stop` resolves, then a few more; every answer is kept. */
  async function burst(write: (n: number) => Promise<string>, stop: Promise<unknown>, workers = 3) {
    const answers: { n: number; status: string; ms: number }[] = [];
    let done = false;
    void stop.then(() => (done = true));
    let n = 0;
    const worker = async () => {
      let after = 0;
      while (!done || after < 3) {
        const mine = n++;
        const started = Date.now();
        const status = await write(mine).catch((error: Error) => `failed: ${error.message}`);
        answers.push({ n: mine, status, ms: Date.now() - started });
        // while the API is down the front door answers at once: no need to spin
        if (status === "restarting") await sleep(250);
        if (done) after += 1;
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return answers;
  }

  it("is held up for a few seconds at most by the status lock a killed writer left, and never says the sidecar is down", async () => {
    // what a writer killed while it held the lock leaves: the lock folder, fresh (proper-lockfile's is a folder)
    const lock = `${own.statusFile}.lock`;
    // taken the way a writer takes it: the sidecar may hold it this instant (recording a download)
    await waitFor(() => mkdir(lock).then(() => true), "the status lock to be free");
    let down = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const { json } = await own.call<{ stats?: { daemon_running: boolean } }>("GET", "/api/admin/models");
        if (json.stats?.daemon_running === false) down += 1;
        await sleep(200);
      }
    })();
    const started = Date.now();
    const queued = await own.call("POST", `/api/admin/models/download/${failing[0]!.file}`);
    const waited = Date.now() - started;
    // and the sidecar's own writes went on after it: it claimed the download and recorded its failure
    await waitFor(async () => ((await own.readStatus()).downloads[failing[0]!.file]?.status === "error" ? true : undefined), "the sidecar's writes after the lock");
    watching = false;
    await watcher;

    expect(outcome(queued)).toBe("ok");
    expect(waited).toBeLessThan(7_000);
    expect(down).toBe(0);
  });

  it("is restarted, and leaves the catalog and the status file whole, when killed in the middle of imports and queue requests", async () => {
    const catalogs = path.dirname(catalogFile(own.stack.studioDir, "models"));
    const imported = (n: number) => ({ name: `imported ${n}`, file: `imported_${String(n).padStart(4, "0")}.safetensors`, dest: "loras" });
    const pollers = [jsonPoller(catalogFile(own.stack.studioDir, "models")), jsonPoller(own.statusFile)];
    let oldestBeat = 0;
    let watching = true;
    const heartbeat = (async () => {
      while (watching) {
        const beat = await own.heartbeat();
        if (beat) oldestBeat = Math.max(oldestBeat, Date.now() - beat.heartbeat);
        await sleep(100);
      }
    })();
    const slowest: number[] = [];
    const cuts: string[][] = [];
    try {
      // until a kill lands in a write (most do at once: a write's temp file lives for its fsync)
      for (let kill = 0; kill < MAX_KILLS && !cuts.some((cut) => cut.length > 0); kill++) {
        const before = apiPids(await own.log()).at(-1);
        const killing = sleep(random.between(200, 1_500)).then(() => killApiInWrite());
        // catalog writes (imports) and status writes (queue requests) at once, from two workers each
        const [imports, queues] = await Promise.all([
          burst(async (n) => {
            const doc = catalog([{ id: "imports", name: "Imports", models: [imported(kill * 1000 + n)] }]);
            return outcome(await own.call("POST", "/api/admin/models/import", { body: uploadForm(JSON.stringify(doc)) }));
          }, killing, 2),
          burst(async (n) => outcome(await own.call("POST", `/api/admin/models/download/${failing[n % failing.length]!.file}`)), killing, 2),
        ]);
        const { backAfterMs, cut } = await killing;
        cuts.push(cut);
        const answered = imports.filter((a) => a.status === "ok").map((a) => imported(kill * 1000 + a.n).file);
        const document = JSON.parse(await readFile(catalogFile(own.stack.studioDir, "models"), "utf8")) as {
          categories: { models: { file: string }[] }[];
        };
        const files = new Set(document.categories.flatMap((c) => c.models.map((m) => m.file)));

        expect(apiPids(await own.log()).at(-1)).not.toBe(before);
        // serverless-offline takes seconds to start, more on two busy cores
        expect(backAfterMs).toBeLessThan(30_000);
        // every import that was answered stands
        expect(answered.filter((file) => !files.has(file))).toEqual([]);
        // a write waiting for the dead process's lock waits it out: it is not refused
        const all = [...imports, ...queues];
        expect(all.filter((a) => a.status !== "ok" && a.status !== "restarting").map((a) => a.status)).toEqual([]);
        slowest.push(Math.max(...all.filter((a) => a.status === "ok").map((a) => a.ms)));
        console.log(
          `api-kills: kill ${kill + 1}: ${cut.length > 0 ? `cut the write of ${cut.join(", ")}` : "landed between writes"}; API back after ${backAfterMs} ms; ${answered.length} imports and ${queues.filter((a) => a.status === "ok").length} queue requests answered; slowest ${slowest.at(-1)} ms`,
        );
      }
    } finally {
      watching = false;
      await heartbeat;
    }
    const reads = await Promise.all(pollers.map((poller) => poller.stop()));

    console.log(`api-kills: ${cuts.filter((cut) => cut.length > 0).length} of ${cuts.length} kill(s) landed in a write`);
    expect(cuts.filter((cut) => cut.length > 0)).toHaveLength(1);

    expect(reads.flatMap((r) => r.bad)).toEqual([]);
    expect(Math.max(...slowest)).toBeLessThan(8_000);
    // the API says the sidecar is down past HEARTBEAT_STALE_MS (lib/state/heartbeat.ts: 8 s)
    console.log(`api-kills: the sidecar's heartbeat was at most ${oldestBeat} ms old`);
    expect(oldestBeat).toBeLessThan(8_000);
    // the next writes clear what a killed writer left
    await own.call("POST", `/api/admin/models/download/${failing[0]!.file}`);
    await own.call("POST", "/api/admin/models/import", { body: uploadForm(JSON.stringify(catalog([{ id: "imports", name: "Imports", models: [imported(9999)] }]))) });
    expect((await readdir(catalogs)).filter((f) => f.endsWith(".tmp") || f.endsWith(".lock"))).toEqual([]);
    // the sidecar takes the status lock only to record a download: between two of its writes there is none
    const leftovers = async () => (await readdir(path.dirname(own.statusFile))).filter((f) => f.endsWith(".tmp") || f === "status.json.lock");
    expect(await waitFor(async () => ((await leftovers()).length === 0 ? [] : undefined), "a moment with no status lock or temp file", 6_000, 20)).toEqual([]);
    expect(await own.secretsOnDisk()).toEqual([]);
  });
});
