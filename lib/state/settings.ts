/**
 * The download settings a person changes while the service runs, `$STUDIO_DIR/state/settings.json`: the
 * bandwidth cap, how many downloads at once, how many connections each. The environment
 * (MAX_CONCURRENT_DOWNLOADS, DOWNLOAD_CONNECTIONS) gives only the defaults until the first change is saved.
 * The handlers write it (under the file's lock, like every state file); the sidecar reads it on each of its
 * ticks through a SettingsReader, which reads the file again only when its stat changed.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Config } from "../config";
import { JsonState } from "./json-state";

/**
 * The smallest cap, 1 MB/s. Each connection the cap holds back has already read one socket chunk (up to
 * 64 KiB) and the bucket allows a burst of 64 KiB: below this, those alone would exceed a tenth of the cap.
 */
export const MIN_BYTES_PER_SECOND = 1_000_000;
export const MAX_CONCURRENT = 32;
export const MAX_CONNECTIONS = 32;

export const SETTINGS_LIMITS = {
  max_bytes_per_second: z.number().int().min(MIN_BYTES_PER_SECOND).max(Number.MAX_SAFE_INTEGER).nullable(),
  max_concurrent: z.number().int().min(1).max(MAX_CONCURRENT),
  connections_per_file: z.number().int().min(1).max(MAX_CONNECTIONS),
};

export const DownloadSettings = z.object(SETTINGS_LIMITS);
export type DownloadSettings = z.infer<typeof DownloadSettings>;

/** What a change may hold: any of the settings, nothing else. */
export const SettingsChange = z.strictObject({
  max_bytes_per_second: SETTINGS_LIMITS.max_bytes_per_second.optional(),
  max_concurrent: SETTINGS_LIMITS.max_concurrent.optional(),
  connections_per_file: SETTINGS_LIMITS.connections_per_file.optional(),
});
export type SettingsChange = z.infer<typeof SettingsChange>;

type SettingsConfig = Pick<Config, "stateDir" | "maxConcurrentDownloads" | "downloadConnections">;

export const settingsPath = (config: Pick<Config, "stateDir">): string => path.join(config.stateDir, "settings.json");

/** The settings before any change: no cap, the environment's concurrency and connections. */
export function defaultSettings(config: SettingsConfig): DownloadSettings {
  return { max_bytes_per_second: null, max_concurrent: config.maxConcurrentDownloads, connections_per_file: config.downloadConnections };
}

/** A file of another shape keeps the settings that still parse; the rest are the defaults. */
function salvage(config: SettingsConfig) {
  return (json: unknown): DownloadSettings | undefined => {
    if (typeof json !== "object" || json === null) return undefined;
    const settings = defaultSettings(config);
    for (const key of Object.keys(SETTINGS_LIMITS) as (keyof DownloadSettings)[]) {
      const parsed = SETTINGS_LIMITS[key].safeParse((json as Record<string, unknown>)[key]);
      if (parsed.success) Object.assign(settings, { [key]: parsed.data });
    }
    return settings;
  };
}

const settingsFile = (config: SettingsConfig) =>
  new JsonState(settingsPath(config), DownloadSettings, () => defaultSettings(config), salvage(config));

/** The settings now: the saved ones, else the defaults. */
export const readSettings = (config: SettingsConfig): Promise<DownloadSettings> => settingsFile(config).read();

/** Applies `change` (already validated) under the file's lock; answers the whole settings after it. */
export function updateSettings(config: SettingsConfig, change: SettingsChange): Promise<DownloadSettings> {
  return settingsFile(config).update((settings) => {
    const before = JSON.stringify(settings);
    for (const [key, value] of Object.entries(change)) if (value !== undefined) Object.assign(settings, { [key]: value });
    return { result: { ...settings }, changed: JSON.stringify(settings) !== before };
  });
}

/**
 * The sidecar's view of the settings, cheap enough for every tick: a stat of the file, and a read only when
 * it changed (its size, mtime or inode: an atomic write replaces the file). A file that cannot be read
 * leaves the last settings in force.
 */
export class SettingsReader {
  readonly #config: SettingsConfig;
  #stamp: string | undefined;
  #settings: DownloadSettings;

  constructor(config: SettingsConfig) {
    this.#config = config;
    this.#settings = defaultSettings(config);
  }

  async current(): Promise<DownloadSettings> {
    const stamp = await stat(settingsPath(this.#config)).then(
      (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
      (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? "none" : undefined),
    );
    if (stamp === undefined || stamp === this.#stamp) return this.#settings;
    const settings = await readSettings(this.#config).catch(() => undefined);
    if (settings === undefined) return this.#settings;
    // the same object while nothing changed: a caller can tell a change by identity
    if (JSON.stringify(settings) !== JSON.stringify(this.#settings)) this.#settings = settings;
    this.#stamp = stamp;
    return this.#settings;
  }
}
