// The service's downloads, timed through its API as a user sees them: from the POST (one, or the batch's
// three at once) until the status file says done AND the listing says present. The sidecar's CPU time is
// read just before the POST and just after done; its copy's SHA256 is checked after, outside the time.
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { BenchError, DOWNLOAD_TIMEOUT_MS, matches, POLL_MS, series, STACK_LOG, syncDisks } from "./common.mjs";
import { cpuSecondsOf } from "./cpu.mjs";

const LISTED_TIMEOUT_MS = 10_000;
// request.ts answers "present" to a POST of a file whose download finished less than a second ago
const FINISHED_SLACK_MS = 1_100;

const secondsSince = (started) => Number(process.hrtime.bigint() - started) / 1e9;

/** POSTs the download of `model`; undefined when queued, else what went wrong. */
async function post(stack, model) {
  const res = await stack.api("POST", `/api/admin/models/download/${encodeURIComponent(model.file)}`);
  const body = await res.text();
  if (res.status !== 200) return `POST ${model.file} answered ${res.status}: ${body}`;
  const status = JSON.parse(body)?.status;
  return status === "queued" ? undefined : `POST ${model.file} answered status ${status}, not queued`;
}

/** Polls the status file until every one of `files` is done or failed; resolves with their entries. */
async function untilFinished(stack, files) {
  const deadline = Date.now() + DOWNLOAD_TIMEOUT_MS;
  for (;;) {
    const downloads = (await stack.readStatus())?.downloads ?? {};
    const entries = files.map((file) => downloads[file]);
    if (entries.every((entry) => entry?.status === "done" || entry?.status === "error")) return entries;
    if (Date.now() > deadline) throw new BenchError(`${stack.label}: ${files.join(", ")} not done within ${DOWNLOAD_TIMEOUT_MS / 1000} s (last status ${JSON.stringify(entries)})`);
    if (stack.child.exitCode !== null) throw new BenchError(`${stack.label}: the stack exited during the download; see ${STACK_LOG}`);
    await sleep(POLL_MS);
  }
}

/** Polls GET /api/admin/models until every one of `files` is present; undefined then, else what it says. */
async function untilListed(stack, files) {
  const deadline = Date.now() + LISTED_TIMEOUT_MS;
  for (;;) {
    const listed = await stack.listing();
    const absent = files.filter((file) => listed.get(file) !== "present");
    if (absent.length === 0) return undefined;
    if (Date.now() > deadline) return `GET /api/admin/models still says ${absent.map((file) => `${file}: ${listed.get(file)}`).join(", ")} ${LISTED_TIMEOUT_MS / 1000} s after done`;
    await sleep(POLL_MS);
  }
}

/** The timed part: POSTs, status until done, listing until present; the sidecar's CPU around it. */
async function timedDownload(stack, models) {
  const files = models.map((model) => model.file);
  const pid = stack.sidecarPid;
  const cpuBefore = cpuSecondsOf(pid);
  const started = process.hrtime.bigint();
  const refused = (await Promise.all(models.map((model) => post(stack, model)))).filter(Boolean);
  const postSeconds = secondsSince(started);
  if (refused.length > 0) return { seconds: secondsSince(started), postSeconds, status: "error", error: refused.join("; ") };
  const entries = await untilFinished(stack, files);
  const cpuAfter = cpuSecondsOf(pid);
  const failed = entries.flatMap((entry, i) => (entry.status === "error" ? [`${files[i]}: ${entry.error}`] : []));
  const unlisted = failed.length > 0 ? undefined : await untilListed(stack, files);
  const seconds = secondsSince(started);
  const error = failed.length > 0 ? failed.join("; ") : unlisted;
  const cpuSeconds = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  return { seconds, postSeconds, cpuSeconds, status: error ? "error" : "done", error };
}

/**
 * Downloads `models` at once through the API and resolves with the run's figures: seconds, CPU seconds,
 * bytes, the sidecar's peak RSS meanwhile, whether every copy matches its source, and the engine's own
 * figure of each when it logs one. The copies are then deleted through the API.
 */
export async function downloadAll(stack, models) {
  for (const model of models) {
    if (existsSync(stack.target(model))) throw new BenchError(`${stack.label}: ${stack.target(model)} is still there from a previous run`);
  }
  syncDisks();
  await sleep(FINISHED_SLACK_MS);
  stack.resetWindow();
  const finishedBefore = stack.finished.length;
  const result = await timedDownload(stack, models);
  stack.sample();
  result.peakRss = stack.windowRss;
  result.bytes = models.reduce((sum, model) => sum + model.source.size, 0);
  if (result.error) stack.problems.push(result.error);
  result.match = result.status === "done";
  for (const model of models) if (result.match) result.match = await matches(stack.target(model), model.source);
  if (result.status === "done" && !result.match) stack.problems.push(`${models.map((m) => m.file).join(", ")}: a copy differs from its source`);
  await sleep(200); // the sidecar's log line of each download arrives
  const engine = stack.finished.slice(finishedBefore).filter((f) => models.some((model) => model.file === f.file));
  if (engine.length > 0) result.engineSeconds = Math.max(...engine.map((f) => f.seconds));
  await removeAll(stack, models);
  return result;
}

async function removeAll(stack, models) {
  for (const model of models) {
    const res = await stack.api("DELETE", `/api/admin/models/${encodeURIComponent(model.file)}`);
    const body = await res.text();
    // a failed download left no file to delete: the 404 of that is expected
    if (res.status !== 200 && existsSync(stack.target(model))) stack.problems.push(`DELETE ${model.file} answered ${res.status}: ${body}`);
    await rm(stack.target(model), { force: true });
  }
}

/** Ours in one scenario: `models` ("fast", "slow" or "batch") downloaded, 1 warm-up and `runs` timed. */
export function measureService(stack, which, name, runs) {
  const models = which === "batch" ? stack.models.batch : [stack.models[which]];
  return series(name, runs, () => downloadAll(stack, models));
}
