import { parseConfig } from "../config";
import { DomainError } from "../errors";
import { redactSecrets } from "../redact";
import { updateStatus } from "../state/status";
import { DownloadQueue } from "../downloads/worker";
import { MetadataQueue } from "../metadata/worker";
import { UpdateChecker } from "../updates/worker";
import { acquireSidecarLock } from "./single-instance";

/**
 * The sidecar: one long-lived process beside the API that does every slow thing. It owns the progress
 * in the status file; the handlers only write intent there. `npm start` runs and restarts it; on a pod
 * it can run alone (`npm run daemon`).
 */
const TICK_MS = 250;
const PROGRESS_MS = 500;

const log = (line: string) => console.log(`[sidecar] ${new Date().toISOString()} ${redactSecrets(line)}`);

async function main(): Promise<void> {
  const config = parseConfig();
  const release = await acquireSidecarLock(config.stateDir, log);

  const queue = new DownloadQueue(config, log);
  const metadata = new MetadataQueue(config, log);
  const updates = new UpdateChecker(config, log);
  await queue.recover();
  await metadata.recover();
  const startedAt = Date.now();
  const beat = () =>
    updateStatus((status, now) => {
      queue.recordProgress(status, now);
      status.daemon = { pid: process.pid, heartbeat: now, started_at: startedAt };
      return { result: undefined, changed: true };
    });
  await beat();
  log(`sidecar started (pid ${process.pid}); models in ${config.modelsDir}, at most ${config.maxConcurrentDownloads} downloads at once`);

  let stopping = false;
  const loop = async (every: number, work: () => Promise<void>) => {
    while (!stopping) {
      await work().catch((error: unknown) => log(`error: ${(error as Error).stack ?? String(error)}`));
      await new Promise((resolve) => setTimeout(resolve, every));
    }
  };
  const loops = [loop(TICK_MS, () => queue.tick()), loop(TICK_MS, () => metadata.tick()), loop(TICK_MS, () => updates.tick()), loop(PROGRESS_MS, beat)];

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping; downloads in progress resume on the next start`);
    await Promise.all([queue.shutdown(), metadata.shutdown(), updates.shutdown()]);
    await Promise.all(loops);
    await release().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  // a domain error's message is written for a person (bad configuration, another sidecar running): no stack
  console.error(`[sidecar] ${redactSecrets(error instanceof DomainError ? error.message : ((error as Error).stack ?? String(error)))}`);
  process.exit(1);
});
