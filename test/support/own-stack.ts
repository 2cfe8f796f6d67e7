/**
 * A stack of a test file's own (npm start, its own studio and models folders, its own upstream stand-in),
 * for tests that kill its processes, fill its disk or flood it: they must not disturb the shared
 * integration stack. It runs with the same test environment as that one (testStackEnv).
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { callAt, type ApiReply, type CallOptions } from "./client";
import { markersOnDisk, type MarkerHit } from "./secrets";
import { startStack, tempDirs, testStackEnv, type RunningStack } from "./stack";
import { startUpstream, upstreamClient, type Upstream, type UpstreamClient } from "./upstream";

export interface OwnStack {
  readonly stack: RunningStack;
  readonly apiKey: string;
  readonly upstream: Upstream;
  readonly up: UpstreamClient;
  call<T = unknown>(method: string, urlPath: string, options?: CallOptions): Promise<ApiReply<T>>;
  readonly statusFile: string;
  readStatus(): Promise<{ downloads: Record<string, { status: string; bytes_downloaded: number; bytes_total: number; error?: string }> }>;
  /** The sidecar's heartbeat (state/sidecar.json); undefined until a sidecar has beaten. */
  heartbeat(): Promise<SidecarBeat | undefined>;
  log(): Promise<string>;
  /** Markers found in its log, studio folder and models folder's small files. */
  secretsOnDisk(): Promise<MarkerHit[]>;
  /**
   * Stops the stack and the upstream, scans its log and folders for the marker credentials, removes the
   * folders (unless KEEP_TEST_DIRS is set), and throws when the scan found any.
   */
  close(): Promise<void>;
}

export interface SidecarBeat {
  readonly pid: number;
  readonly heartbeat: number;
  readonly started_at: number;
}

export const OWN_API_KEY = "own-stack-key-3d9a61c0";

export async function startOwnStack(env: NodeJS.ProcessEnv = {}, dirs?: Awaited<ReturnType<typeof tempDirs>>): Promise<OwnStack> {
  const upstream = await startUpstream();
  const folders = dirs ?? (await tempDirs("models-admin-own-"));
  const stack = await startStack(folders, {
    API_KEY: OWN_API_KEY,
    ...testStackEnv(upstream.url),
    ...env,
  }).catch(async (error: unknown) => {
    await upstream.close();
    throw error;
  });
  const target = { baseUrl: stack.baseUrl, apiKey: (env.API_KEY as string | undefined) ?? OWN_API_KEY };
  const statusFile = path.join(stack.studioDir, "state", "status.json");
  return {
    stack,
    apiKey: target.apiKey,
    upstream,
    up: upstreamClient(upstream.url),
    call: (method, urlPath, options) => callAt(target, method, urlPath, options),
    statusFile,
    readStatus: async () => JSON.parse(await readFile(statusFile, "utf8")),
    heartbeat: () => readFile(path.join(stack.studioDir, "state", "sidecar.json"), "utf8").then((text) => JSON.parse(text) as SidecarBeat, () => undefined),
    log: () => readFile(stack.logFile, "utf8"),
    secretsOnDisk: () => markersOnDisk(stack.logFile, stack.studioDir, stack.modelsDir),
    async close() {
      await stack.stop("SIGTERM");
      await upstream.close();
      // every scenario run on an own stack ends with a scan of what it wrote: a credential anywhere fails it
      const hits = await markersOnDisk(stack.logFile, stack.studioDir, stack.modelsDir);
      if (process.env.KEEP_TEST_DIRS) console.log(`kept ${stack.root}`);
      else await rm(stack.root, { recursive: true, force: true });
      if (hits.length > 0) throw new Error(`credentials written to disk: ${hits.map((hit) => hit.where).join(", ")}`);
    },
  };
}
