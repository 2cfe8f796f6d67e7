/**
 * What the unit tests of identify and verify share: a studio of their own whose CivitAI is the upstream
 * stand-in, files on its volume with the stand-in's content, and the sidecar's worker driven tick by tick.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import { readStatus, type VolumeJob, type VolumeJobName } from "../../../lib/state/status";
import { startJob } from "../../../lib/volume/request";
import { VolumeWorker } from "../../../lib/volume/worker";
import { CIVITAI_API_KEY } from "../../support/secrets";
import { fileBytes } from "../../support/upstream";
import { makeTempDir, removeTempDir, testStudio, type TestStudio } from "../helpers";
import { useUpstream, type Stand } from "../support/upstream/harness";

export interface JobsHarness {
  readonly stand: Stand;
  studio(): TestStudio;
  /** The sidecar's log lines. */
  readonly logged: string[];
  /** Puts `bytes` of the stand-in file `id`'s content at `rel` under the models folder. */
  put(rel: string, id: string, bytes?: number): Promise<string>;
  /** Asks for a run, ticks the worker until it ends, and answers the job as the status file has it. */
  run(name: VolumeJobName, files?: string[]): Promise<VolumeJob>;
  worker(): VolumeWorker;
}

export function useJobs(seed: number): JobsHarness {
  const stand = useUpstream();
  const logged: string[] = [];
  let current: { studio: TestStudio; worker: VolumeWorker } | undefined;
  beforeEach(async () => {
    const studio = testStudio(await makeTempDir(), {
      CIVITAI_BASE_URL: stand.up.url,
      CIVITAI_API_KEY,
      METADATA_TIMEOUT_SECONDS: "2",
      DOWNLOAD_RETRY_BASE_MS: "10",
    });
    await mkdir(studio.config.stateDir, { recursive: true });
    logged.length = 0;
    current = { studio, worker: new VolumeWorker(studio, (line) => logged.push(line)) };
  });
  afterEach(async () => {
    if (!current) return;
    await current.worker.shutdown();
    await removeTempDir(current.studio.root);
    current = undefined;
  });
  const studio = () => current!.studio;
  const worker = () => current!.worker;
  return {
    stand,
    studio,
    logged,
    worker,
    async put(rel, id, bytes = 4096) {
      const file = path.join(studio().modelsDir, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, fileBytes(id, seed, 0, bytes));
      return file;
    },
    async run(name, files) {
      if (name === "verify") await startJob(studio().config, "verify", files);
      else await startJob(studio().config, "identify");
      const deadline = Date.now() + 20_000;
      for (;;) {
        await worker().tick();
        const job = (await readStatus(studio().config))[name];
        if (job && job.status !== "queued" && job.status !== "running") return job;
        if (Date.now() > deadline) throw new Error(`the ${name} did not end: ${JSON.stringify(job)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
