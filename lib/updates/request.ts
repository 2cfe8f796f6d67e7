/** The API side of "check for updates": the sidecar clones or fetches the catalog's git repository. */
import { readFile } from "node:fs/promises";
import type { Config } from "../config";
import { ConflictError } from "../errors";
import { remoteCatalogPath } from "../catalog/sync";
import { loadCatalog } from "../catalog/store";
import type { Studio } from "../catalog/studio";
import { readStatus, updateStatus } from "../state/status";

const notConfigured = () =>
  new ConflictError("CATALOG_REPO_URL is not set: point it at the git repository of your catalog to check for updates");

/** POST /api/admin/models/check-updates: asks the sidecar for a check; one at a time. */
export async function requestUpdateCheck(config: Config): Promise<{ status: "queued" }> {
  if (config.catalogRepoUrl === undefined) throw notConfigured();
  await updateStatus(config, (status, now) => {
    const busy = status.updates?.status === "queued" || status.updates?.status === "running";
    if (!busy) status.updates = { status: "queued", requested_at: now };
    return { result: undefined, changed: !busy };
  });
  return { status: "queued" };
}

export interface UpdateCheckView {
  status: "idle" | "running" | "done" | "error";
  remote_version: number | null;
  local_version: number;
  error?: string;
}

async function remoteVersion(config: Config): Promise<number | null> {
  try {
    const version = (JSON.parse(await readFile(remoteCatalogPath(config), "utf8")) as { version?: unknown }).version;
    return typeof version === "number" ? version : null;
  } catch {
    return null;
  }
}

/** GET /api/admin/models/check-updates: the last check, with both versions as they are now. */
export async function updateCheckStatus(studio: Studio): Promise<UpdateCheckView> {
  const { config } = studio;
  const [{ updates }, local, remote] = await Promise.all([readStatus(config), loadCatalog(studio, "models"), remoteVersion(config)]);
  const status = updates === undefined ? "idle" : updates.status === "queued" ? "running" : updates.status;
  return {
    status,
    remote_version: remote,
    local_version: local.document.version ?? 0,
    ...(updates?.error !== undefined && { error: updates.error }),
  };
}
