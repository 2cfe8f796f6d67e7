/**
 * One writer of test/fault/stalled-lock.test.ts, run as a process of its own (the test bundles it with
 * esbuild): makes one change through the real lib code (an import, a status change, an
 * activity line) and can hold still inside it, lock held, so that the test can SIGSTOP it right there.
 *
 * argv[2] is a JSON WriterTask. It prints one JSON line per event: {"event":"holding"} when it holds still,
 * then {"event":"done","result":...} or {"event":"failed","status":...,"message":...}.
 */
import fs from "node:fs";
import path from "node:path";
import { importModels } from "../../lib/catalog/import";
import { catalogPath } from "../../lib/catalog/store";
import { createStudio } from "../../lib/catalog/studio";
import { parseConfig } from "../../lib/config";
import { statusOf } from "../../lib/http/error-response";
import { appendActivity } from "../../lib/state/activity-log";
import { statusPath, updateStatus } from "../../lib/state/status";

export interface WriterTask {
  target: "catalog" | "status" | "activity";
  /** What the change adds: the import's file `<name>.safetensors`, the download `<name>`, the line `<name>`. */
  name: string;
  /**
   * Where to hold still, once: "read" (just after the change read the file, under the lock) or "rename"
   * (just before it renames its new file into place, after every check the writer makes before that).
   */
  holdAt?: "read" | "rename";
  /** Holding still ends when this file appears. */
  go?: string;
}

const task = JSON.parse(process.argv[2] ?? "{}") as WriterTask;
// the process's environment, as the test gives it: the studio under test
const studio = createStudio(parseConfig());
const { config } = studio;
const say = (event: Record<string, unknown>): void => void fs.writeSync(1, `${JSON.stringify(event)}\n`);

const targetFile = (): string =>
  ({ catalog: catalogPath(config, "models"), status: statusPath(config), activity: path.join(config.stateDir, "activity-log.json") })[task.target];

/**
 * The lib reads and renames through node:fs/promises, which the bundle looks up at each call. Holding
 * still at "read" is after the read of the target file (the change has what it will write over); at
 * "rename", before the rename. Until the go file appears the event loop runs on, so the lock stays
 * fresh, until the test stops the whole process.
 */
function holdStill(step: "readFile" | "rename", fileArgument: 0 | 1, after: boolean): void {
  const promises = fs.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = promises[step]!;
  let held = false;
  const hold = async () => {
    say({ event: "holding" });
    while (!fs.existsSync(task.go!)) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  promises[step] = async (...args: unknown[]) => {
    if (held || args[fileArgument] !== targetFile()) return original(...args);
    held = true;
    if (!after) await hold();
    try {
      return await original(...args);
    } finally {
      // a file that is not there yet is a read too (the change starts from nothing)
      if (after) await hold();
    }
  };
}

async function change(): Promise<unknown> {
  switch (task.target) {
    case "catalog": {
      const model = { name: task.name, file: `${task.name}.safetensors`, dest: "loras", source: "url", url: `https://example.com/${task.name}` };
      return importModels(studio, JSON.stringify({ version: 1, date: "2026-01-01", categories: [{ id: "stalled", name: "Stalled", models: [model] }] }));
    }
    case "status":
      return updateStatus(config, (status, now) => {
        status.downloads[task.name] = { status: "queued", bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0, seq: now, queued_at: now };
        return { result: task.name, changed: true };
      });
    case "activity":
      return appendActivity(config, { message: task.name, level: "info" });
  }
}

if (task.holdAt === "read") holdStill("readFile", 0, true);
if (task.holdAt === "rename") holdStill("rename", 1, false);
change().then(
  (result) => say({ event: "done", result: result ?? null }),
  (error: Error) => say({ event: "failed", status: statusOf(error), message: error.message }),
);
