/**
 * `npm start`: everything a pod needs, with embedded defaults. It resolves the API key, seeds the
 * catalogs, runs serverless-offline (handlers in its own process) on a Unix socket behind the front door
 * on $PORT, runs the sidecar, restarts either if it dies, and stops all of it on Ctrl-C or SIGTERM.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { ConfigError, parseConfig, type Config } from "../config";
import { secretsOf } from "../redact";
import { resolveApiKey, type ApiKeySource } from "./api-key";
import { createFront } from "./front";
import { seedCatalogs } from "../catalog/seed";
import { installLambdaStreaming, serveStreamed } from "./streamed";
import { Supervised } from "./supervised";

async function main(projectDir: string): Promise<void> {
  const config = parseConfig();
  const apiKey = await resolveApiKey(config.apiKey, config.studioDir);
  for (const file of await seedCatalogs(config.catalogsDir, path.join(projectDir, "catalogs"))) {
    console.log(`Seeded ${file} from the shipped catalog`);
  }
  await Promise.all([config.modelsDir, config.stateDir].map((dir) => mkdir(dir, { recursive: true })));

  // serverless-offline's HTTP and Lambda-invoke listeners: Unix sockets, where no other process can take
  // a port chosen for them in the seconds before they bind it
  const sockets = await mkdtemp(path.join(os.tmpdir(), "models-admin-api-"));
  const prebuilt = prebuiltFunctions(projectDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    API_KEY: apiKey.key.reveal(),
    STUDIO_DIR: config.studioDir,
    COMFYUI_DIR: config.comfyuiDir,
    MODELS_DIR: config.modelsDir,
    CORS_ORIGINS: config.corsOrigins.join(","),
    // beside .esbuild, not inside: `sls package` removes its whole .esbuild folder when it is done
    ESBUILD_WORK_FOLDER: prebuilt ?? `.esbuild-port-${config.port}`,
  };
  // neither child may outlive this process, however it ends
  const preload = path.join(projectDir, "lib", "server", "parent-watch.cjs");
  const [upstreamSocket, lambdaSocket] = [path.join(sockets, "http.sock"), path.join(sockets, "lambda.sock")];
  const api = new Supervised({
    name: "API (serverless-offline)",
    command: path.join(projectDir, "node_modules", ".bin", "sls"),
    // stage "local": serverless.yml then leaves the environment to this process (no /mnt paths, no SSM key)
    args: ["offline", "start", "--stage", "local", "--httpPort", upstreamSocket, "--lambdaPort", lambdaSocket],
    cwd: projectDir,
    env,
    readyLine: /Server ready:/,
    quietUntilReady: true,
    preload,
    // a killed one leaves its sockets, which a new one could not listen on
    prepare: async () => {
      for (const file of [upstreamSocket, lambdaSocket]) await rm(file, { force: true });
    },
  });
  const sidecar = new Supervised({
    name: "sidecar",
    command: process.execPath,
    args: [path.join(projectDir, ".build", "daemon.cjs")],
    cwd: projectDir,
    // every connection's writes, the checkpoints' syncs and the hashing share libuv's pool: 4 is too few
    env: { UV_THREADPOOL_SIZE: "16", MALLOC_MMAP_THRESHOLD_: "131072", MALLOC_ARENA_MAX: "2", ...env },
    readyLine: /sidecar started/,
    preload,
  });

  // the streamed route runs in this process, with the same environment as the functions
  Object.assign(process.env, env);
  installLambdaStreaming();
  const { handler: modelsStatus } = await import("../../handlers/models-status");
  const secrets = secretsOf({ ...config, apiKey: apiKey.key });
  const front = createFront({
    upstreamSocket,
    corsOrigins: config.corsOrigins,
    apiKey: apiKey.key,
    secrets,
    streamed: { "GET /api/admin/models/status": (req, res) => serveStreamed(modelsStatus as never, req, res, secrets) },
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    front.close();
    front.closeAllConnections();
    await Promise.all([api.stop(), sidecar.stop()]);
    // the prebuilt bundles are not this instance's to remove: the test run's later stacks serve them too
    const ours = prebuilt === undefined ? [path.join(projectDir, env.ESBUILD_WORK_FOLDER!)] : [];
    await Promise.all([...ours, sockets].map((dir) => rm(dir, { recursive: true, force: true })));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));

  try {
    // the port first: taken, start-up fails before any child runs, and none is left behind without a parent
    await listen(front, config.port, config.host);
    await Promise.all([api.start(), sidecar.start()]);
  } catch (error) {
    await Promise.all([api.stop(), sidecar.stop(), rm(sockets, { recursive: true, force: true })]);
    throw error;
  }
  console.log(`API (serverless-offline) pid ${api.pid}; sidecar pid ${sidecar.pid}`);
  announce(config, apiKey);
}

/**
 * The test runs' shortcut (scripts/serverless-prebuilt.cjs): PREBUILT_FUNCTIONS names a work folder in the
 * project where this run's tests had the functions bundled once; serverless-offline serves those bundles
 * instead of bundling its own. Unset (`npm start`), each instance bundles into a work folder of its own.
 */
function prebuiltFunctions(projectDir: string): string | undefined {
  const folder = process.env.PREBUILT_FUNCTIONS;
  if (!folder) return undefined;
  if (path.isAbsolute(folder) || folder.includes("..") || !existsSync(path.join(projectDir, folder, ".build"))) {
    throw new ConfigError(`PREBUILT_FUNCTIONS must name a folder of bundles inside the project (${projectDir}), not ${JSON.stringify(folder)}`);
  }
  return folder;
}

function announce(config: Config, apiKey: ApiKeySource): void {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  console.log(`Models folder: ${config.modelsDir}`);
  console.log(`Studio folder: ${config.studioDir}`);
  if (apiKey.origin === "generated") {
    console.log(`Generated an API key and stored it in ${apiKey.file} (mode 0600). It is shown this once:`);
    console.log(`  ${apiKey.key.reveal()}`);
  } else {
    console.log(apiKey.origin === "file" ? `Using the API key stored in ${apiKey.file}` : "Using the API key from API_KEY");
  }
  console.log(`Admin page: http://${host}:${config.port}/admin`);
  console.log(`Models admin API ready on http://${host}:${config.port}/api/admin/models (send X-API-Key)`);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
}

main(process.argv[2] ?? process.cwd()).catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `Start-up failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
