/**
 * "Downloads" in the tools: pause or resume everything, the bandwidth cap, downloads at once and
 * connections per file (GET and PUT api/admin/downloads/settings), and the live speed of all downloads
 * against the cap.
 */
import { ApiError, type Api } from "./api";
import { byId } from "./dom";
import { notices } from "./notices";
import { capText, settingsBody, speedAgainstCap } from "./settings";
import type { DownloadSettings } from "./types";

export class SettingsPanel {
  readonly #api: Api;
  readonly #cap = byId<HTMLInputElement>("settings-cap");
  readonly #concurrent = byId<HTMLInputElement>("settings-concurrent");
  readonly #connections = byId<HTMLInputElement>("settings-connections");
  readonly #hint = byId("settings-hint");
  readonly #speedText = byId("settings-speed");
  /** The cap as last filled in, so that a field left alone sends the exact bytes, not its rounded MB/s. */
  #shownCap: { text: string; bytes: number | null } | undefined;
  #capNow: number | null | undefined;
  #speed = 0;

  constructor(api: Api) {
    this.#api = api;
  }

  /** On a new session: the settings as they are now fill the form. */
  async load(): Promise<void> {
    this.#fill(await this.#api.call<DownloadSettings>("GET", "api/admin/downloads/settings"));
  }

  async save(): Promise<void> {
    const body = settingsBody({ cap: this.#cap.value, concurrent: this.#concurrent.value, connections: this.#connections.value }, this.#shownCap);
    if (!body.ok) return this.#say(body.problem);
    try {
      this.#fill(await this.#api.call<DownloadSettings>("PUT", "api/admin/downloads/settings", body.value));
    } catch (error) {
      // the API's reason for refusing a value belongs beside the fields, not in a passing message
      if (error instanceof ApiError && (error.status === 422 || error.status === 400)) return this.#say(error.detail);
      throw error;
    }
    notices.info("Saved the download settings: running downloads follow them within 2 seconds");
  }

  /** The live aggregate speed, from the status stream or the listing. */
  setSpeed(bytesPerSecond: number): void {
    this.#speed = bytesPerSecond;
    this.#renderSpeed();
  }

  /** The cap as the listing's stats tell it (another browser may have changed it). */
  setCap(cap: number | null | undefined): void {
    if (cap === undefined) return;
    this.#capNow = cap;
    this.#renderSpeed();
  }

  #fill(settings: DownloadSettings): void {
    const text = capText(settings.max_bytes_per_second);
    this.#shownCap = { text, bytes: settings.max_bytes_per_second };
    this.#cap.value = text;
    this.#concurrent.value = String(settings.max_concurrent);
    this.#connections.value = String(settings.connections_per_file);
    this.#say(undefined);
    this.setCap(settings.max_bytes_per_second);
  }

  #renderSpeed(): void {
    if (this.#capNow === undefined) return;
    this.#speedText.textContent = speedAgainstCap(this.#speed, this.#capNow);
  }

  #say(problem: string | undefined): void {
    this.#hint.textContent = problem ?? "";
    this.#hint.hidden = problem === undefined;
  }
}
