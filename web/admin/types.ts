/** The shapes of the API's answers, as the page reads them (docs/api.md). */

export type ModelStatus = "present" | "not_downloaded" | "downloading" | "queued" | "paused" | "error";

export interface Model {
  readonly name: string;
  readonly file: string;
  readonly dest: string;
  readonly size_gb?: number;
  readonly tags?: readonly string[];
  readonly base_model?: string;
  readonly source?: string;
  readonly status: ModelStatus;
  readonly on_disk_bytes: number;
  readonly error?: string;
  readonly sha256?: string;
  /** Set by a verify run while the file is unchanged: false means damaged (and `error` says so). */
  readonly verified?: boolean;
  /** Queued or paused: its place in the queue, 0 = next to start. */
  readonly queue_position?: number;
}

export interface Category {
  readonly id: string;
  readonly name: string;
  readonly models: readonly Model[];
}

export interface Stats {
  readonly queued_count: number;
  readonly downloading_count: number;
  readonly fetching_count: number;
  readonly present_count: number;
  readonly total_count: number;
  readonly global_speed: number;
  readonly models_bytes: number;
  readonly free_bytes: number;
  readonly daemon_running?: boolean;
  /** The sidecar's bandwidth cap for all downloads together, in bytes per second; null for none. */
  readonly max_bytes_per_second?: number | null;
}

export interface Listing {
  readonly version: number;
  readonly date: string;
  readonly stats: Stats;
  readonly categories: readonly Category[];
}

/** One download as the status stream tells it. */
export interface LiveDownload {
  readonly status: "queued" | "downloading" | "paused" | "done" | "error";
  readonly bytes_downloaded: number;
  readonly bytes_total: number;
  readonly speed: number;
  readonly percent: number;
  readonly error?: string;
  /** Queued or paused: its place in the queue, 0 = next to start. */
  readonly queue_position?: number;
}

export interface StatusEvent {
  readonly downloads: Readonly<Record<string, LiveDownload>>;
  readonly timestamp: number;
}

export type MetadataState = "queued_metadata" | "fetching_metadata" | "done" | "error";
export type MetadataStatus = Readonly<Record<string, { readonly status: MetadataState; readonly error?: string }>>;

export interface ActivityEntry {
  readonly time: string;
  readonly message: string;
  readonly level: string;
}

export interface UpdateCheck {
  readonly status: "idle" | "running" | "done" | "error";
  readonly remote_version: number | null;
  readonly local_version: number;
  readonly error?: string;
}

export interface ImportResult {
  readonly added: readonly string[];
  readonly skipped: readonly string[];
  readonly total_added: number;
}

export type SyncResult =
  | { readonly status: "updated"; readonly old_version: number; readonly new_version: number; readonly new_date: string }
  | { readonly status: "up_to_date"; readonly version: number };

/** POST api/admin/models/add: the entry it made, the category it joined, and its download. */
export interface AddResult {
  readonly status: "added";
  readonly model: Model;
  readonly category: string;
  readonly download: "queued" | "present" | null;
}

/** What CivitAI says a file is, once identified by its SHA256. */
export interface Match {
  readonly civitai_version_id: number;
  readonly civitai_model_id: number;
  readonly name: string;
  readonly type: string;
  readonly base_model?: string | null;
}

/** A file on the volume that no catalog entry points at (GET api/admin/models/unlisted). */
export interface UnlistedFile {
  readonly path: string;
  readonly dest: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string | null;
  readonly match: Match | null;
}

export interface AdoptResult {
  readonly added: readonly { readonly path: string; readonly name: string; readonly file: string; readonly dest: string; readonly category: string }[];
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/** The progress of the sidecar's identify or verify run: both hash files one at a time. */
export interface JobProgress {
  readonly status: "idle" | "running" | "done" | "error";
  readonly hashed: number;
  readonly total: number;
  readonly error?: string;
  readonly cancelled?: boolean;
  /** identify: files CivitAI knew */
  readonly matched?: number;
  /** verify: files whose SHA256 is the catalog's, and those whose is not */
  readonly verified?: number;
  readonly damaged?: number;
}

/** GET and PUT api/admin/downloads/settings. */
export interface DownloadSettings {
  readonly max_bytes_per_second: number | null;
  readonly max_concurrent: number;
  readonly connections_per_file: number;
}
