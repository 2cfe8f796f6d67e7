import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { inject } from "vitest";
import { catalog, writeCatalog, type TestModel } from "./catalogs";
import { call } from "./client";
import { upstreamClient } from "./upstream";
import { waitUntil } from "./wait";

export interface StatusEntry {
  status: "queued" | "downloading" | "done" | "error";
  bytes_downloaded: number;
  bytes_total: number;
  speed: number;
  percent: number;
  error?: string;
  cancel?: boolean;
}

export interface StatusFile {
  downloads: Record<string, StatusEntry>;
}

export const stackInfo = () => inject("stack");
export const upstream = () => upstreamClient(inject("stack").upstream);

export async function readStatusFile(): Promise<StatusFile> {
  const file = path.join(inject("stack").studioDir, "state", "status.json");
  return JSON.parse(await readFile(file, "utf8")) as StatusFile;
}

/** The sidecar's heartbeat (state/sidecar.json). */
export async function readHeartbeat(): Promise<{ pid: number; heartbeat: number; started_at: number }> {
  return JSON.parse(await readFile(path.join(inject("stack").studioDir, "state", "sidecar.json"), "utf8")) as { pid: number; heartbeat: number; started_at: number };
}

export { waitUntil } from "./wait";

/** Waits until the sidecar has finished with `file`, one way or the other. */
export const settled = (file: string, timeoutMs?: number): Promise<StatusEntry> =>
  waitUntil(
    async () => {
      const entry = (await readStatusFile()).downloads[file];
      return entry?.status === "done" || entry?.status === "error" ? entry : undefined;
    },
    `${file} to finish`,
    timeoutMs,
  );

/** Puts these models (and only these) in the models catalog. */
export const useModels = (models: TestModel[]) =>
  writeCatalog(inject("stack").studioDir, "models", catalog([{ id: "downloads", name: "Downloads", models }]));

export const queue = (file: string) =>
  call<{ status: string; file: string }>("POST", `/api/admin/models/download/${encodeURIComponent(file)}`);

export const modelFile = (model: Pick<TestModel, "dest" | "file">) => path.join(inject("stack").modelsDir, model.dest, model.file);

export const stackLog = async (): Promise<string> => readFile(inject("stack").logFile, "utf8");

export const hfEntry = (id: string, file: string, dest = "checkpoints", extra: Partial<TestModel> = {}): TestModel => {
  const [owner, repo, ...rest] = id.split("/");
  return { name: file, file, dest, source: "huggingface", hf_repo: `${owner}/${repo}`, hf_file: rest.join("/"), ...extra };
};

export const civitaiEntry = (versionId: number, file: string, dest = "loras", extra: Partial<TestModel> = {}): TestModel => ({
  name: file,
  file,
  dest,
  source: "civitai",
  civitai_version_id: String(versionId),
  civitai_model_id: versionId + 1,
  ...extra,
});

export const urlEntry = (id: string, file: string, dest = "upscale_models", extra: Partial<TestModel> = {}): TestModel => ({
  name: file,
  file,
  dest,
  source: "url",
  url: `${inject("stack").upstream}/files/${id}`,
  ...extra,
});

export const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );
