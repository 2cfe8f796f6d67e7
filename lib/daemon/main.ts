/**
 * The sidecar: one long-lived process beside the API that does every slow thing. It owns the progress
 * in the status file; the handlers only write intent there. With nothing to do it only reads: its
 * heartbeat goes to a file of its own. `npm start` runs and restarts it; on a pod it can run alone
 * (`npm run daemon`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createStudio } from "../catalog/studio";
import { parseConfig, type Config } from "../config";
import { DomainError } from "../errors";
import { redactSecrets, secretsOf } from "../redact";
import type { Secret } from "../secret";
import { HEARTBEAT_MS, heartbeatWriter } from "../state/heartbeat";
import { ensureStatus } from "../state/status";
import { DownloadQueue } from "../downloads/worker";
import { MetadataQueue } from "../metadata/worker";
import { UpdateChecker } from "../updates/worker";
import { VolumeWorker } from "../volume/worker";
import { acquireSidecarLock } from "./single-instance";

const TICK_MS = 250;
const PROGRESS_MS = 500;

type Log = (line: string) => void;

async function main(config: Config, log: Log): Promise<void> {
  const release = await acquireSidecarLock(config.stateDir, log);

  // the workers share one Studio: one parse of the catalog serves them all while its file is unchanged
  const studio = createStudio(config);
  const queue = new DownloadQueue(studio, log);
  const metadata = new MetadataQueue(studio, log);
  const updates = new UpdateChecker(config, log);
  const volume = new VolumeWorker(studio, log);
  await queue.recover();
  await metadata.recover();
  await volume.recover();
  await ensureStatus(config);
  // beats before it claims anything: the API takes a download whose sidecar does not beat for orphaned
  const { beat } = heartbeatWriter(config.stateDir);
  await beat();
  log(`sidecar started (pid ${process.pid}); models in ${config.modelsDir}, at most ${config.maxConcurrentDownloads} downloads at once`);

  // stopping ends every loop's pause at once: the heartbeat's is seconds long
  const stopping = new AbortController();
  const loop = async (every: number, work: () => Promise<void>) => {
    while (!stopping.signal.aborted) {
      await work().catch((error: unknown) => log(`error: ${(error as Error).stack ?? String(error)}`));
      await sleep(every, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };
  const loops = [
    loop(TICK_MS, () => queue.tick()),
    loop(TICK_MS, () => metadata.tick()),
    loop(TICK_MS, () => updates.tick()),
    loop(TICK_MS, () => volume.tick()),
    loop(PROGRESS_MS, () => queue.writeProgress()),
    loop(HEARTBEAT_MS, beat),
  ];

  const stop = async (signal: string) => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    log(`${signal}: stopping; downloads in progress resume on the next start`);
    await Promise.all([queue.shutdown(), metadata.shutdown(), updates.shutdown(), volume.shutdown()]);
    await Promise.all(loops);
    await release().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

function fail(error: unknown, secrets: readonly Secret[]): never {
  // a domain error's message is written for a person (bad configuration, another sidecar running): no stack
  console.error(`[sidecar] ${redactSecrets(error instanceof DomainError ? error.message : ((error as Error).stack ?? String(error)), secrets)}`);
  process.exit(1);
}

/** The configuration, parsed once here and passed down; every line of the log hides its credentials. */
function start(): void {
  let config: Config;
  try {
    config = parseConfig();
  } catch (error) {
    fail(error, []);
  }
  const secrets = secretsOf(config);
  const log: Log = (line) => console.log(`[sidecar] ${new Date().toISOString()} ${redactSecrets(line, secrets)}`);
  main(config, log).catch((error: unknown) => fail(error, secrets));
}

start();
