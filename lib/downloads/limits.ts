/**
 * The sidecar's live download settings (state/settings.json, changed through the API): read on each tick of
 * the queue, cheaply (a stat; a read only when the file changed), and handed on. The queue starts no more than
 * `maxConcurrent` downloads; every download reads `connections` and takes from the one `limiter` (the cap)
 * as it runs, so a change reaches the running downloads within a tick.
 */
import type { Config } from "../config";
import { SettingsReader, type DownloadSettings } from "../state/settings";
import type { LiveLimits } from "./engine/job";
import { RateLimiter } from "./engine/rate-limit";

const mbps = (rate: number | null) => (rate === null ? "no cap" : `a cap of ${(rate / 1e6).toFixed(1)} MB/s`);

export class DownloadLimits implements LiveLimits {
  readonly limiter = new RateLimiter();
  readonly #reader: SettingsReader;
  readonly #log: (line: string) => void;
  #settings: DownloadSettings | undefined;

  constructor(config: Pick<Config, "stateDir" | "maxConcurrentDownloads" | "downloadConnections">, log: (line: string) => void = () => {}) {
    this.#reader = new SettingsReader(config);
    this.#log = log;
  }

  get connections(): number {
    return this.#settings?.connections_per_file ?? 1;
  }

  /** The settings now, applied to the cap; said in the log when they changed. */
  async refresh(): Promise<DownloadSettings> {
    const settings = await this.#reader.current();
    if (settings === this.#settings) return settings;
    const first = this.#settings === undefined;
    this.#settings = settings;
    this.limiter.rate = settings.max_bytes_per_second;
    const what = `${mbps(settings.max_bytes_per_second)}, ${settings.max_concurrent} downloads at once, ${settings.connections_per_file} connections each`;
    if (!first || settings.max_bytes_per_second !== null) this.#log(`download settings: ${what}`);
    return settings;
  }
}
