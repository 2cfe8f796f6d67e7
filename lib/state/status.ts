/**
 * The status file, `$STUDIO_DIR/state/status.json`, shared by the handlers (which only enqueue and ask
 * for cancels) and the sidecar (which owns progress). The ONLY module that touches it. Every change is a
 * read-modify-write under one lock, written atomically; readers take no lock and never see half a file.
 * It changes only when something happens: the sidecar's heartbeat lives apart (heartbeat.ts).
 */
import path from "node:path";
import { z } from "zod";
import type { Config } from "../config";
import { entryExists } from "../fs/exists";
import { JsonState, type StateChange } from "./json-state";

export const DOWNLOAD_STATES = ["queued", "downloading", "paused", "done", "error"] as const;
export type DownloadState = (typeof DOWNLOAD_STATES)[number];

export const DownloadEntry = z.looseObject({
  status: z.enum(DOWNLOAD_STATES),
  bytes_downloaded: z.number().nonnegative(),
  bytes_total: z.number().nonnegative(),
  speed: z.number().nonnegative(),
  percent: z.number().min(0).max(100),
  error: z.string().optional(),
  /** Queue order: lower first. */
  seq: z.number(),
  queued_at: z.number(),
  started_at: z.number().optional(),
  finished_at: z.number().optional(),
  /** Set by DELETE while downloading: the sidecar stops, removes the partial and the entry. */
  cancel: z.boolean().optional(),
  /** Set by a pause while downloading: the sidecar stops, keeps the partial, and marks the entry "paused". */
  pause: z.boolean().optional(),
});
export type DownloadEntry = z.infer<typeof DownloadEntry>;

export const MetadataEntry = z.looseObject({
  status: z.enum(["queued_metadata", "fetching_metadata", "done", "error"]),
  error: z.string().optional(),
});
export type MetadataEntry = z.infer<typeof MetadataEntry>;

/** A check for catalog updates: asked for by the API ("queued"), run by the sidecar. */
export const UpdateCheck = z.looseObject({
  status: z.enum(["queued", "running", "done", "error"]),
  requested_at: z.number(),
  finished_at: z.number().optional(),
  error: z.string().optional(),
});
export type UpdateCheck = z.infer<typeof UpdateCheck>;

/**
 * An identify or a verify of the volume's files (lib/volume): asked for by the API ("queued"), run by the
 * sidecar, which keeps the counts up to date as it goes; `cancel` is the API's request to stop.
 */
export const VolumeJob = z.looseObject({
  status: z.enum(["queued", "running", "done", "error"]),
  requested_at: z.number(),
  started_at: z.number().optional(),
  finished_at: z.number().optional(),
  hashed: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  /** identify: the files CivitAI knows. */
  matched: z.number().int().nonnegative().optional(),
  /** verify: the files whose SHA256 is the catalog's, and those whose is not. */
  verified: z.number().int().nonnegative().optional(),
  damaged: z.number().int().nonnegative().optional(),
  /** verify: only these catalog files (all when absent). */
  files: z.array(z.string()).optional(),
  cancel: z.boolean().optional(),
  /** A DELETE stopped it (status "done"). */
  cancelled: z.boolean().optional(),
  error: z.string().optional(),
});
export type VolumeJob = z.infer<typeof VolumeJob>;
export type VolumeJobName = "identify" | "verify";

export const Status = z.looseObject({
  downloads: z.record(z.string(), DownloadEntry).default({}),
  metadata: z.record(z.string(), MetadataEntry).default({}),
  updates: UpdateCheck.optional(),
  identify: VolumeJob.optional(),
  verify: VolumeJob.optional(),
});
export type Status = z.infer<typeof Status>;

function emptyStatus(): Status {
  return { downloads: {}, metadata: {} };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function goodEntries<S extends z.ZodType>(schema: S, value: unknown): Record<string, z.infer<S>> {
  const entries = Object.entries(isRecord(value) ? value : {}).flatMap(([key, entry]) => {
    const parsed = schema.safeParse(entry);
    return parsed.success ? [[key, parsed.data] as const] : [];
  });
  return Object.fromEntries(entries);
}

/** One bad entry (a hand edit, another version's field) costs that entry, not the whole queue. */
function salvageStatus(json: unknown): Status | undefined {
  if (!isRecord(json)) return undefined;
  const status: Status = { downloads: goodEntries(DownloadEntry, json.downloads), metadata: goodEntries(MetadataEntry, json.metadata) };
  const updates = UpdateCheck.safeParse(json.updates);
  if (updates.success) status.updates = updates.data;
  for (const job of ["identify", "verify"] as const) {
    const parsed = VolumeJob.safeParse(json[job]);
    if (parsed.success) status[job] = parsed.data;
  }
  return status;
}

/** A finished download stays visible this long (SSE clients see "done"); a failed one until retried or a day. */
export const DONE_RETENTION_MS = 30 * 60_000;
export const ERROR_RETENTION_MS = 24 * 60 * 60_000;

/** What the status file's functions need of the configuration. */
type StateDir = Pick<Config, "stateDir">;

export function statusPath(config: StateDir): string {
  return path.join(config.stateDir, "status.json");
}

const statusFile = (config: StateDir) => new JsonState(statusPath(config), Status, emptyStatus, salvageStatus);

/** The status as it is now. A corrupt file reads as what can be salvaged of it; the next writer moves it aside. */
export const readStatus = (config: StateDir): Promise<Status> => statusFile(config).read();

/** The status as it is now, and whether the file is corrupt: then the next update repairs it, changed or not. */
export const inspectStatus = (config: StateDir): Promise<{ value: Status; corrupt: boolean }> => statusFile(config).inspect();

/** Writes the status file when there is none, so that readers always find one (the sidecar, as it starts). */
export async function ensureStatus(config: StateDir): Promise<void> {
  if (await entryExists(statusPath(config))) return;
  // under the lock: had another writer made the file meanwhile, its content is written back as it is
  await updateStatus(config, () => ({ result: undefined, changed: true }));
}

export type StatusChange<R> = StateChange<R>;

/**
 * Read-modify-write under the status lock. `change` mutates the status in place and says whether it
 * did; finished entries past their retention are pruned on the way.
 */
export function updateStatus<R>(config: StateDir, change: (status: Status, now: number) => StatusChange<R>): Promise<R> {
  return statusFile(config).update((status, now) => {
    // an older sidecar kept its heartbeat here; gone with the next write
    delete status.daemon;
    const pruned = prune(status, now);
    const { result, changed } = change(status, now);
    return { result, changed: changed || pruned };
  });
}

const expired = (entry: DownloadEntry, now: number): boolean => {
  const age = now - (entry.finished_at ?? now);
  return (entry.status === "done" && age > DONE_RETENTION_MS) || (entry.status === "error" && age > ERROR_RETENTION_MS);
};

/** Whether `status` holds an entry past its retention, which the next write drops. */
export const hasExpired = (status: Status, now = Date.now()): boolean => Object.values(status.downloads).some((entry) => expired(entry, now));

function prune(status: Status, now: number): boolean {
  let pruned = false;
  for (const [file, entry] of Object.entries(status.downloads)) {
    if (expired(entry, now)) {
      delete status.downloads[file];
      pruned = true;
    }
  }
  return pruned;
}

/** In the queue or running: queued, downloading, or paused (which keeps its partial and its place). */
export const isActive = (entry: DownloadEntry | undefined): boolean =>
  entry?.status === "queued" || entry?.status === "downloading" || entry?.status === "paused";

/** Waiting in the queue: queued, or paused (skipped by the sidecar, keeping its place). */
export const inQueue = (entry: DownloadEntry | undefined): boolean => entry?.status === "queued" || entry?.status === "paused";

/** The queue in its order (by `seq`, then name): the files of the queued and paused entries. */
export function queueOrder(status: Pick<Status, "downloads">): string[] {
  return Object.entries(status.downloads)
    .filter(([, entry]) => inQueue(entry))
    .sort(([a, x], [b, y]) => x.seq - y.seq || (a < b ? -1 : a > b ? 1 : 0))
    .map(([file]) => file);
}

/** Each queued or paused file's 0-based place in the queue. */
export const queuePositions = (status: Pick<Status, "downloads">): Map<string, number> => new Map(queueOrder(status).map((file, index) => [file, index]));
