import { byId, h, replaceChildren } from "./dom";
import type { ActivityEntry, MetadataState, MetadataStatus, UpdateCheck } from "./types";

const METADATA_WORDS: Readonly<Record<MetadataState, string>> = {
  queued_metadata: "waiting",
  fetching_metadata: "fetching",
  done: "done",
  error: "failed",
};

/** True while a metadata run has models left: the page then keeps polling. */
export const metadataRunning = (status: MetadataStatus): boolean =>
  Object.values(status).some((entry) => entry.status === "queued_metadata" || entry.status === "fetching_metadata");

/** The last metadata run in one line of counts, and every failure with its reason. */
export function renderMetadata(status: MetadataStatus): void {
  const entries = Object.entries(status);
  const root = byId("metadata-status");
  if (entries.length === 0) {
    replaceChildren(root, h("p", { class: "muted" }, "No metadata fetch yet."));
    return;
  }
  const counts = new Map<MetadataState, number>();
  for (const [, entry] of entries) counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1);
  const summary = (["done", "error", "fetching_metadata", "queued_metadata"] as const)
    .filter((state) => counts.has(state))
    .map((state) => `${counts.get(state)} ${METADATA_WORDS[state]}`)
    .join(", ");
  const failures = entries.filter(([, entry]) => entry.status === "error");
  replaceChildren(
    root,
    h("p", { class: "metadata-summary" }, `${metadataRunning(status) ? "Fetching" : "Last run"}: ${entries.length} models — ${summary}`),
    failures.length > 0 &&
      h("ul", { class: "metadata-errors" }, ...failures.map(([file, entry]) => h("li", {}, h("code", {}, file), ": ", entry.error ?? "failed"))),
  );
}

/** The activity log, oldest first; it stays scrolled to the newest line unless the person scrolled up. */
export function renderLog(entries: readonly ActivityEntry[]): void {
  const log = byId("activity-log");
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
  if (entries.length === 0) replaceChildren(log, h("li", { class: "muted" }, "Nothing yet."));
  else
    replaceChildren(
      log,
      ...entries.map((entry) =>
        h("li", { class: `log-${entry.level}` }, h("time", {}, entry.time), " ", h("span", { class: "log-message" }, entry.message)),
      ),
    );
  if (atEnd) log.scrollTop = log.scrollHeight;
}

/** What the last check for catalog updates found, in words. */
export function renderUpdates(check: UpdateCheck): void {
  const words = (() => {
    switch (check.status) {
      case "idle":
        return `Not checked yet. Local catalog: version ${check.local_version}.`;
      case "running":
        return "Checking for updates…";
      case "error":
        return `The last check failed: ${check.error ?? "unknown error"}`;
      case "done":
        return check.remote_version !== null && check.remote_version > check.local_version
          ? `Version ${check.remote_version} is available (this pod has ${check.local_version}): Sync to take it.`
          : `Up to date: version ${check.local_version}${check.remote_version !== null ? ` (remote ${check.remote_version})` : ""}.`;
    }
  })();
  byId("updates-status").textContent = words;
}
