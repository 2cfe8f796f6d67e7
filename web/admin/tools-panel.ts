import { run, type catalogActions } from "./actions";
import type { AddBox } from "./add-model";
import { ApiError, type Api } from "./api";
import { byId } from "./dom";
import { metadataRunning, renderLog, renderMetadata, renderUpdates } from "./render-tools";
import type { ActivityEntry, MetadataStatus, UpdateCheck } from "./types";
import type { UnlistedPanel } from "./unlisted-panel";
import type { VerifyPanel } from "./verify-panel";

/** The tools beside the catalog: add by link, import, unlisted files, verify, metadata with its activity log, catalog updates. */

const POLL_MS = 1_500;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Shows the metadata run and the log, and keeps doing so while the run has models left. */
export async function followMetadata(api: Api, signal: AbortSignal): Promise<void> {
  for (;;) {
    const [status, log] = await Promise.all([
      api.call<MetadataStatus>("GET", "api/admin/models/metadata-status"),
      api.call<ActivityEntry[]>("GET", "api/admin/activity-log"),
    ]);
    renderMetadata(status);
    renderLog(log);
    if (!metadataRunning(status) || signal.aborted) return;
    await pause(POLL_MS);
  }
}

/** Shows the last check for catalog updates, and follows one that is running to its end. */
export async function followUpdates(api: Api, signal: AbortSignal): Promise<UpdateCheck> {
  for (;;) {
    const check = await api.call<UpdateCheck>("GET", "api/admin/models/check-updates");
    renderUpdates(check);
    if (check.status !== "running" || signal.aborted) return check;
    await pause(POLL_MS);
  }
}

export interface ToolsPanel {
  readonly api: Api;
  readonly tools: ReturnType<typeof catalogActions>;
  /** The signal of the current key's session: a new key stops the old polls. */
  signal(): AbortSignal;
  refreshListing(): Promise<void>;
}

/** A button that runs `action`, busy until it is done; `after` then sets what the button shows next. */
export function onClick(id: string, action: () => Promise<void>, after?: () => void): HTMLButtonElement {
  const button = byId<HTMLButtonElement>(id);
  button.addEventListener("click", () => void run(action, button).then(after));
  return button;
}

export function wireToolsPanel({ api, tools, signal, refreshListing }: ToolsPanel): void {
  const file = byId<HTMLInputElement>("import-file");
  const noFile = () => (importButton.disabled = !file.files?.length);
  const importButton = onClick(
    "import-button",
    async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      await tools.importFile(chosen);
      file.value = "";
    },
    noFile,
  );
  file.addEventListener("change", noFile);

  onClick("fetch-metadata", async () => {
    await tools.fetchMetadata();
    await followMetadata(api, signal());
    // names, tags and sizes may have changed
    await refreshListing();
  });
  onClick("clear-log", async () => {
    await tools.clearLog();
    renderLog([]);
  });
  onClick("check-updates", async () => {
    await tools.checkUpdates();
    const result = await followUpdates(api, signal());
    if (result.status === "error") throw new ApiError(500, `Checking for updates failed: ${result.error ?? "unknown error"}`);
  });
  onClick("sync-catalog", async () => {
    await tools.sync();
    await followUpdates(api, signal());
  });
}

/** Add by link, the unlisted files and verify: the volume's own files. */
export function wireVolumeTools({ addBox, unlisted, verify }: { addBox: AddBox; unlisted: UnlistedPanel; verify: VerifyPanel }): void {
  const addButton = byId<HTMLButtonElement>("add-button");
  byId("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!addButton.disabled) void run(() => addBox.add(), addButton);
  });
  onClick("identify", () => unlisted.identify());
  onClick("identify-cancel", () => unlisted.cancel());
  onClick("unlisted-refresh", () => unlisted.load());
  onClick("adopt", () => unlisted.adopt(), () => unlisted.renderSelection());
  onClick("verify", () => verify.verify());
  onClick("verify-cancel", () => verify.cancel());
}
