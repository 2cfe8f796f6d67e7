/** The shapes of the API's answers, as the page reads them (docs/api.md). */

export type ModelStatus = "present" | "not_downloaded" | "downloading" | "queued" | "error";

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
}

export interface Listing {
  readonly version: number;
  readonly date: string;
  readonly stats: Stats;
  readonly categories: readonly Category[];
}

/** One download as the status stream tells it. */
export interface LiveDownload {
  readonly status: "queued" | "downloading" | "done" | "error";
  readonly bytes_downloaded: number;
  readonly bytes_total: number;
  readonly speed: number;
  readonly percent: number;
  readonly error?: string;
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
