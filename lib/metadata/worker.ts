import type { Config } from "../config";
import { usableEntry } from "../catalog/schema";
import { changeCatalog, loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { redactSecrets, secretsOf } from "../redact";
import type { Secret } from "../secret";
import { appendActivity } from "../state/activity-log";
import { readStatus, updateStatus } from "../state/status";
import { fetchMetadata } from "./fetch";

/** Two models at a time, each one or two requests in a row: never more than two requests at once upstream. */
const CONCURRENCY = 2;

/**
 * The sidecar's metadata fetches: takes queued models from the status file in order, fetches what
 * CivitAI or Hugging Face say of each, and writes it into the catalog entry under the catalog's lock,
 * so an import or a removal meanwhile is never undone. One model's failure never stops the run.
 */
export class MetadataQueue {
  readonly #studio: Studio;
  readonly #config: Config;
  readonly #secrets: readonly Secret[];
  readonly #log: (line: string) => void;
  readonly #running = new Set<string>();
  readonly #settled = new Set<Promise<void>>();

  constructor(studio: Studio, log: (line: string) => void) {
    this.#studio = studio;
    this.#config = studio.config;
    this.#secrets = secretsOf(studio.config);
    this.#log = log;
  }

  /** After a crash: what was being fetched is fetched again. */
  async recover(): Promise<void> {
    await updateStatus(this.#config, (status) => {
      const stuck = Object.values(status.metadata).filter((entry) => entry.status === "fetching_metadata");
      for (const entry of stuck) entry.status = "queued_metadata";
      return { result: undefined, changed: stuck.length > 0 };
    });
  }

  async tick(): Promise<void> {
    if (this.#running.size >= CONCURRENCY) return;
    const { metadata } = await readStatus(this.#config);
    const queued = Object.entries(metadata)
      .filter(([file, entry]) => entry.status === "queued_metadata" && !this.#running.has(file))
      .slice(0, CONCURRENCY - this.#running.size);
    for (const [file] of queued) {
      const claimed = await updateStatus(this.#config, (status) => {
        const entry = status.metadata[file];
        if (entry?.status !== "queued_metadata") return { result: false, changed: false };
        entry.status = "fetching_metadata";
        return { result: true, changed: true };
      });
      if (claimed) this.#start(file);
    }
  }

  #start(file: string): void {
    this.#running.add(file);
    const settled = this.#fetch(file)
      .catch((error: unknown) => this.#log(`metadata of ${file}: could not record the outcome: ${redactSecrets(String(error), this.#secrets)}`))
      .finally(() => {
        this.#running.delete(file);
        this.#settled.delete(settled);
      });
    this.#settled.add(settled);
  }

  async #fetch(file: string): Promise<void> {
    await appendActivity(this.#config, { message: `Fetching metadata for ${file}...`, level: "info" });
    let outcome: { ok: true; summary: string } | { ok: false; error: string };
    try {
      const model = (await loadCatalog(this.#studio, "models")).models.find((entry) => entry.file === file);
      if (!model) throw new Error("no longer in the catalog");
      const { fields, summary } = await fetchMetadata(model, this.#config);
      await changeCatalog(this.#studio, "models", (catalog) => {
        let changed = false;
        for (const { category } of catalog.categories) {
          for (const entry of category.models) {
            if (usableEntry(entry).model?.file === file) {
              Object.assign(entry as object, fields);
              changed = true;
            }
          }
        }
        return { result: undefined, changed };
      });
      outcome = { ok: true, summary };
    } catch (error) {
      outcome = { ok: false, error: redactSecrets((error as Error).message, this.#secrets) };
    }
    await updateStatus(this.#config, (status) => {
      const entry = status.metadata[file];
      if (!entry) return { result: undefined, changed: false };
      if (outcome.ok) {
        entry.status = "done";
        delete entry.error;
      } else {
        entry.status = "error";
        entry.error = outcome.error;
      }
      return { result: undefined, changed: true };
    });
    if (outcome.ok) {
      this.#log(`metadata of ${file}: ${outcome.summary}`);
      await appendActivity(this.#config, { message: `OK -- ${file}: ${outcome.summary}`, level: "ok" });
    } else {
      this.#log(`metadata of ${file} failed: ${outcome.error}`);
      await appendActivity(this.#config, { message: `ERROR -- ${file}: ${outcome.error}`, level: "error" });
    }
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.#settled]);
  }
}
