import { ApiError, type Api } from "./api";
import { countOf, formatBytes } from "./format";
import { announce, notices } from "./notices";
import { queuePlace } from "./shown";
import type { ImportResult, Model, SyncResult } from "./types";

/** What the actions need of the page: the API, and a way to show the catalog as it now is. */
export interface ActionContext {
  readonly api: Api;
  refresh(): Promise<void>;
}

const encoded = (file: string): string => encodeURIComponent(file);

/** "a, b and 3 more": a list of files short enough for one message. */
export function listed(files: readonly string[], shown = 3): string {
  if (files.length <= shown) return files.join(", ");
  return `${files.slice(0, shown).join(", ")} and ${files.length - shown} more`;
}

/**
 * Runs one action: its button is busy (and can't be pressed twice) until the API has answered; a failure
 * is shown as the API's detail. A 401 is the key prompt's to handle, not a message's.
 */
export async function run(action: () => Promise<void>, button?: HTMLButtonElement | null): Promise<void> {
  const wasDisabled = button?.disabled ?? false;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status !== 401) notices.error(error.detail);
    } else {
      notices.error(`Something went wrong in the page: ${(error as Error).message}`);
      console.error(error);
    }
  } finally {
    if (button?.isConnected) {
      button.disabled = wasDisabled;
      button.removeAttribute("aria-busy");
    }
  }
}

export function downloadActions({ api, refresh }: ActionContext) {
  return {
    async download(model: Model) {
      const { status } = await api.call<{ status: string }>("POST", `api/admin/models/download/${encoded(model.file)}`);
      if (status === "present") notices.info(`${model.name} is already on disk`);
      else if (status === "downloading") notices.info(`${model.name} is already downloading`);
      else notices.info(`Queued ${model.name}`);
      await refresh();
    },

    async downloadSelected(files: readonly string[]) {
      const { queued, skipped } = await api.call<{ queued: string[]; skipped: string[] }>("POST", "api/admin/models/download-batch", { filenames: files });
      const parts = [queued.length > 0 ? `Queued ${queued.length}: ${listed(queued)}` : "Nothing queued"];
      if (skipped.length > 0) parts.push(`skipped ${skipped.length} (on disk, on its way or unknown): ${listed(skipped)}`);
      notices.info(parts.join("; "));
      await refresh();
    },

    async cancel(model: Model) {
      await api.call("DELETE", `api/admin/models/${encoded(model.file)}`);
      notices.info(`Cancelled the download of ${model.name}`);
      await refresh();
    },

    async pause(model: Model) {
      await api.call("POST", `api/admin/models/download/${encoded(model.file)}/pause`);
      notices.info(`Paused ${model.name}: it keeps what it has downloaded and its place in the queue`);
      await refresh();
    },

    async resume(model: Model) {
      await api.call("POST", `api/admin/models/download/${encoded(model.file)}/resume`);
      notices.info(`Resumed ${model.name}`);
      await refresh();
    },

    /** Quietly: the row shows its new place; a screen reader hears it. */
    async move(model: Model, position: number) {
      const { queue_position } = await api.call<{ queue_position: number }>("POST", `api/admin/models/download/${encoded(model.file)}/move`, { position });
      announce(`${model.name} is ${queuePlace(queue_position)}`);
      await refresh();
    },

    async pauseAll() {
      const { paused } = await api.call<{ paused: string[] }>("POST", "api/admin/downloads/pause-all");
      notices.info(paused.length > 0 ? `Paused ${paused.length}: ${listed(paused)}` : "Nothing to pause: no download is queued or running");
      await refresh();
    },

    async resumeAll() {
      const { resumed } = await api.call<{ resumed: string[] }>("POST", "api/admin/downloads/resume-all");
      notices.info(resumed.length > 0 ? `Resumed ${resumed.length}: ${listed(resumed)}` : "Nothing to resume: no download is paused");
      await refresh();
    },

    async deleteFile(model: Model) {
      const size = model.on_disk_bytes > 0 ? ` (${formatBytes(model.on_disk_bytes)})` : "";
      if (!confirm(`Delete ${model.file}${size} from disk? The catalog entry stays, so it can be downloaded again.`)) return;
      await api.call("DELETE", `api/admin/models/${encoded(model.file)}`);
      notices.info(`Deleted the file of ${model.name}`);
      await refresh();
    },

    async remove(model: Model) {
      if (!confirm(`Remove ${model.name} (${model.file}) from the catalog?`)) return;
      await api.call("DELETE", `api/admin/models/${encoded(model.file)}/catalog`);
      notices.info(`Removed ${model.name} from the catalog`);
      await refresh();
    },
  };
}

export function catalogActions({ api, refresh }: ActionContext) {
  return {
    async importFile(file: File) {
      const form = new FormData();
      form.append("file", file, file.name);
      const { added, skipped } = await api.call<ImportResult>("POST", "api/admin/models/import", form);
      const parts = [added.length > 0 ? `Imported ${added.length} from ${file.name}: ${listed(added)}` : `Nothing new in ${file.name}`];
      if (skipped.length > 0) parts.push(`skipped ${skipped.length} already in the catalog: ${listed(skipped)}`);
      notices.info(parts.join("; "));
      await refresh();
    },

    async fetchMetadata() {
      const { queued } = await api.call<{ queued: number }>("POST", "api/admin/models/fetch-metadata");
      notices.info(queued > 0 ? `Fetching metadata for ${countOf(queued, "model")}` : "Every model with a CivitAI or Hugging Face source is already being fetched");
    },

    async clearLog() {
      await api.call("POST", "api/admin/activity-log/clear");
    },

    async checkUpdates() {
      await api.call("POST", "api/admin/models/check-updates");
    },

    async sync() {
      const result = await api.call<SyncResult>("POST", "api/admin/models/sync");
      notices.info(
        result.status === "updated"
          ? `Catalog updated from version ${result.old_version} to ${result.new_version} (${result.new_date})`
          : `The catalog is up to date (version ${result.version})`,
      );
      await refresh();
    },
  };
}
