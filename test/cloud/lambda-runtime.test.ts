import { readFile, rm, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { catalog, catalogFile, hfModel, placeModel, readCatalog, type TestCatalog } from "../support/catalogs";
import type { LambdaCloud } from "../support/lambda-cloud";
import { form, juggernaut, KEY, lora, sdxl, spaced, startSeededCloud, type Listing } from "../support/lambda-fixtures";
import { PACKAGE_PARAMS } from "../support/package";

// The cloud path, proven by running it: the functions `npm run package` built, unpacked from their zips and
// run by the Lambda Node.js runtime's rules (support/lambda-runner.cjs) behind the packaged REST API
// (support/lambda-cloud.ts), with only the environment the template gives them. The EFS mount is a temp
// folder here: every variable that starts with /mnt/workspace points into it. Lambda's payload limits are
// proven the same way in lambda-payload-limits.test.ts.

describe("the packaged functions in the Lambda Node.js runtime, behind the packaged REST API", () => {
  let cloud: LambdaCloud;
  let studioDir: string;
  let modelsDir: string;
  const key = { "X-API-Key": KEY, Accept: "application/json" };

  beforeAll(async () => {
    ({ cloud, studioDir, modelsDir } = await startSeededCloud());
    await cloud.warm();
  }, 120_000);

  afterAll(async () => {
    await cloud?.close();
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.log(`the functions' output:\n${cloud.logs().slice(-60).join("\n")}`);
  });

  it("runs each function with only the template's variables and the runtime's, the EFS paths in the test's folder", () => {
    const functions = Object.values(cloud.template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
    const runtime = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_ENDPOINT_URL_SSM", "LAMBDA_TASK_ROOT", "_HANDLER", "PATH", "TZ"];

    for (const fn of functions) {
      const name = path.basename((fn.Properties.Code as { S3Key: string }).S3Key, ".zip");
      const env = cloud.envOf(name);
      const own = Object.keys((fn.Properties.Environment as { Variables: object } | undefined)?.Variables ?? {});

      expect(Object.keys(env)).toEqual(expect.arrayContaining([...own, ...runtime]));
      expect([name, env.HOME, env.IS_OFFLINE, env.PATH]).toEqual([name, undefined, undefined, "/usr/local/bin:/usr/bin/:/bin:/opt/bin"]);
      // a function without the volume (the admin page) keeps /mnt/workspace: it has nothing there in Lambda either
      if (fn.Properties.FileSystemConfigs === undefined) continue;
      for (const dir of ["STUDIO_DIR", "COMFYUI_DIR", "MODELS_DIR"].filter((name) => own.includes(name))) {
        expect(env[dir]!.startsWith(`${cloud.mountDir}/`)).toBe(true);
      }
      expect(env.STUDIO_DIR).toBe(path.join(cloud.mountDir, "studio"));
    }
    expect(functions).toHaveLength(32);
  });

  it("lists the catalog with what is on disk (GET /api/admin/models)", async () => {
    await placeModel(modelsDir, juggernaut, 2048);

    const reply = await cloud.request("GET", "/api/admin/models", { headers: key });
    const listing = reply.json<Listing>();

    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(listing.version).toBe(21);
    expect(listing.stats).toMatchObject({ total_count: 3, present_count: 1, queued_count: 0, daemon_running: false });
    expect(listing.categories[0]!.models.map((m) => [m.file, m.status, m.on_disk_bytes])).toEqual([
      [juggernaut.file, "present", 2048],
      [sdxl.file, "not_downloaded", 0],
      [spaced.file, "not_downloaded", 0],
    ]);
  });

  it("refuses a wrong key, or none, with 401 on every API route, the streamed one included", async () => {
    const routes: [string, string][] = [
      ["GET", "/api/admin/models"],
      ["GET", "/api/admin/models/civitai-map"],
      ["POST", `/api/admin/models/download/${sdxl.file}`],
      ["POST", "/api/admin/models/download-batch"],
      ["DELETE", `/api/admin/models/${sdxl.file}`],
      ["DELETE", `/api/admin/models/${sdxl.file}/catalog`],
      ["POST", "/api/admin/models/import"],
      ["POST", "/api/admin/models/fetch-metadata"],
      ["GET", "/api/admin/models/metadata-status"],
      ["GET", "/api/admin/activity-log"],
      ["POST", "/api/admin/activity-log/clear"],
      ["POST", "/api/admin/models/check-updates"],
      ["GET", "/api/admin/models/check-updates"],
      ["POST", "/api/admin/models/sync"],
      ["GET", "/api/admin/models/unlisted"],
      ["POST", "/api/admin/models/identify"],
      ["GET", "/api/admin/models/identify"],
      ["DELETE", "/api/admin/models/identify"],
      ["POST", "/api/admin/models/adopt"],
      ["POST", "/api/admin/models/verify"],
      ["GET", "/api/admin/models/verify"],
      ["DELETE", "/api/admin/models/verify"],
      ["POST", "/api/admin/models/add"],
      ["POST", `/api/admin/models/download/${sdxl.file}/pause`],
      ["POST", `/api/admin/models/download/${sdxl.file}/resume`],
      ["POST", `/api/admin/models/download/${sdxl.file}/move`],
      ["POST", "/api/admin/downloads/pause-all"],
      ["POST", "/api/admin/downloads/resume-all"],
      ["GET", "/api/admin/downloads/settings"],
      ["PUT", "/api/admin/downloads/settings"],
    ];
    const before = await readFile(catalogFile(studioDir, "models"), "utf8");

    for (const [method, url] of routes) {
      for (const headers of [{ "X-API-Key": "wrong-key" }, {}]) {
        const reply = await cloud.request(method, url, { headers });
        expect([method, url, reply.status, reply.json()]).toEqual([method, url, 401, { detail: "Invalid or missing API key" }]);
      }
    }
    const stream = await cloud.stream("GET", "/api/admin/models/status", { headers: { "X-API-Key": "wrong-key" } });

    expect(stream.prelude.statusCode).toBe(401);
    expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
  }, 60_000);

  it("maps both catalogs by CivitAI version (GET /api/admin/models/civitai-map)", async () => {
    const reply = await cloud.request("GET", "/api/admin/models/civitai-map", { headers: key });
    const json = reply.json<{ by_version: Record<string, unknown>; by_model: Record<string, unknown> }>();

    expect(reply.status).toBe(200);
    expect(json.by_version["123456"]).toEqual({
      file: juggernaut.file,
      dest: "checkpoints",
      name: juggernaut.name,
      base_model: "SDXL 1.0",
      status: "present",
      civitai_model_id: 789,
      catalog: "models",
    });
    expect(json.by_version["62833"]).toMatchObject({ file: lora.file, status: "missing", catalog: "loras" });
    expect(json.by_model).toEqual({ "789": [123456], "58390": [62833] });
  });

  it("queues a download into the volume's status.json, and says so again, or that the file is there", async () => {
    const first = await cloud.request("POST", `/api/admin/models/download/${encodeURIComponent(sdxl.file)}`, { headers: key });
    const again = await cloud.request("POST", `/api/admin/models/download/${encodeURIComponent(sdxl.file)}`, { headers: key });
    const present = await cloud.request("POST", `/api/admin/models/download/${encodeURIComponent(juggernaut.file)}`, { headers: key });
    const unknown = await cloud.request("POST", "/api/admin/models/download/nope.safetensors", { headers: key });
    const status = JSON.parse(await readFile(path.join(studioDir, "state", "status.json"), "utf8")) as { downloads: Record<string, { status: string }> };

    expect(first.json()).toEqual({ status: "queued", file: sdxl.file });
    expect(again.json()).toEqual({ status: "downloading", file: sdxl.file });
    expect(present.json()).toEqual({ status: "present", file: juggernaut.file });
    expect([unknown.status, unknown.json()]).toEqual([404, { detail: "Model 'nope.safetensors' not found in catalog" }]);
    expect(status.downloads[sdxl.file]!.status).toBe("queued");
  });

  it("queues a batch from a JSON body (POST /api/admin/models/download-batch)", async () => {
    const reply = await cloud.request("POST", "/api/admin/models/download-batch", {
      headers: { ...key, "Content-Type": "application/json" },
      body: JSON.stringify({ filenames: [spaced.file, sdxl.file, "nope.safetensors"] }),
    });

    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ queued: [spaced.file], skipped: ["nope.safetensors", sdxl.file] });
  });

  it("deletes a file whose name API Gateway hands over percent-encoded, then cancels a queued one, then 404", async () => {
    const onDisk = await placeModel(modelsDir, spaced);
    const url = `/api/admin/models/${encodeURIComponent(spaced.file)}`;

    const deleted = await cloud.request("DELETE", url, { headers: key });
    const gone = await cloud.request("DELETE", url, { headers: key });
    const cancelled = await cloud.request("DELETE", `/api/admin/models/${encodeURIComponent(sdxl.file)}`, { headers: key });

    expect(url).toContain("my%20model%20(v2)");
    expect([deleted.status, deleted.json()]).toEqual([200, { status: "deleted", file: spaced.file }]);
    await expect(readFile(onDisk)).rejects.toThrow(/ENOENT/);
    expect([gone.status, gone.json()]).toEqual([404, { detail: `Model '${spaced.file}' is not on disk` }]);
    expect([cancelled.status, cancelled.json()]).toEqual([200, { status: "deleted", file: sdxl.file }]);
  });

  it("removes a model from the catalog, and refuses while its file is on disk", async () => {
    const refused = await cloud.request("DELETE", `/api/admin/models/${encodeURIComponent(juggernaut.file)}/catalog`, { headers: key });
    const removed = await cloud.request("DELETE", `/api/admin/models/${encodeURIComponent(spaced.file)}/catalog`, { headers: key });
    const files = (await readCatalog(studioDir, "models")).categories.flatMap((c) => c.models.map((m) => m.file));

    expect(refused.status).toBe(409);
    expect([removed.status, removed.json()]).toEqual([200, { status: "removed", file: spaced.file }]);
    expect(files).toEqual([juggernaut.file, sdxl.file]);
  });

  it("imports a multipart upload that API Gateway hands over base64-encoded", async () => {
    const upload = await form(JSON.stringify(catalog([{ id: "sdxl", name: "SDXL", models: [hfModel("new_one.safetensors", "checkpoints"), juggernaut] }])));

    const reply = await cloud.request("POST", "/api/admin/models/import", { headers: { ...key, "Content-Type": upload.type }, body: upload.body });
    const files = (await readCatalog(studioDir, "models")).categories.flatMap((c) => c.models.map((m) => m.file));

    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ added: ["new_one.safetensors"], skipped: [juggernaut.file], total_added: 1 });
    expect(files).toContain("new_one.safetensors");
  });

  it("queues metadata fetches, reports them, logs them in the activity log and clears it", async () => {
    const queued = await cloud.request("POST", "/api/admin/models/fetch-metadata", { headers: key });
    const status = await cloud.request("GET", "/api/admin/models/metadata-status", { headers: key });
    const log = await cloud.request("GET", "/api/admin/activity-log", { headers: key });
    const cleared = await cloud.request("POST", "/api/admin/activity-log/clear", { headers: key });
    const empty = await cloud.request("GET", "/api/admin/activity-log", { headers: key });
    const files = queued.json<{ queued: number; files: string[] }>().files;

    expect(queued.status).toBe(200);
    expect([...files].sort()).toEqual([juggernaut.file, "new_one.safetensors", sdxl.file].sort());
    expect(status.json()).toEqual(Object.fromEntries(files.map((file) => [file, { status: "queued_metadata" }])));
    expect(log.json()).toContainEqual({ time: expect.stringMatching(/^\d\d:\d\d:\d\d$/), message: "Queued 3 models for metadata fetch", level: "info" });
    expect(cleared.json()).toEqual({ status: "cleared" });
    expect(empty.json()).toEqual([]);
  });

  it("asks the sidecar for an update check and tells how it went (check-updates)", async () => {
    const asked = await cloud.request("POST", "/api/admin/models/check-updates", { headers: key });
    const told = await cloud.request("GET", "/api/admin/models/check-updates", { headers: key });

    expect([asked.status, asked.json()]).toEqual([200, { status: "queued" }]);
    expect(told.json()).toMatchObject({ status: "running", remote_version: null, local_version: 21 });
  });

  it("syncs the catalog from the clone on the volume (POST /api/admin/models/sync)", async () => {
    const remote: TestCatalog = catalog([{ id: "sdxl", name: "SDXL", models: [juggernaut, hfModel("from_git.safetensors", "checkpoints")] }], 22, "2026-04-01 10:00");
    await mkdir(path.join(studioDir, ".repo", "catalogs"), { recursive: true });
    await writeFile(path.join(studioDir, ".repo", "catalogs", "models.json"), JSON.stringify(remote));

    const reply = await cloud.request("POST", "/api/admin/models/sync", { headers: key });

    expect(reply.json()).toEqual({ status: "updated", old_version: 21, new_version: 22, new_date: "2026-04-01 10:00" });
    expect((await readCatalog(studioDir, "models")).version).toBe(22);
    await rm(path.join(studioDir, ".repo"), { recursive: true, force: true });
  });

  it("serves the admin page without a key", async () => {
    const reply = await cloud.request("GET", "/admin", { headers: { Accept: "text/html" } });

    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^text\/html/);
    expect(reply.text()).toContain("<title>Models admin</title>");
  });

  it("streams status events a second apart through awslambda.HttpResponseStream (GET /api/admin/models/status)", async () => {
    await cloud.request("POST", "/api/admin/models/download/new_one.safetensors", { headers: key });
    const stream = await cloud.stream("GET", "/api/admin/models/status?max_seconds=3", { headers: key });
    const events: { at: number; data: { downloads: Record<string, { status: string }> } }[] = [];
    let buffer = "";
    while (events.length < 2) {
      const piece = await stream.next();
      if (!piece) break;
      buffer += piece.data.toString("utf8");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith("data: ")) events.push({ at: piece.at, data: JSON.parse(block.slice(6)) });
      }
    }
    while (await stream.next()); // to its end, so the runtime is free for the next invocation

    expect(stream.contentType).toBe("application/vnd.awslambda.http-integration-response");
    expect(stream.prelude.statusCode).toBe(200);
    expect(stream.prelude.headers?.["Content-Type"]).toMatch(/^text\/event-stream/);
    expect(events).toHaveLength(2);
    expect(events[1]!.at - events[0]!.at).toBeGreaterThanOrEqual(800);
    expect(events[0]!.data.downloads["new_one.safetensors"]).toMatchObject({ status: "queued" });
  }, 20_000);

  it("has the key in no function's configuration, and reads it from the SSM parameter the template names, decrypted", () => {
    const names = new Set(cloud.ssm.requests.map((request) => request.name));
    const envs = Object.values(cloud.template.Resources)
      .filter((r) => r.Type === "AWS::Lambda::Function")
      .map((fn) => JSON.stringify(fn.Properties.Environment ?? {}));

    expect(cloud.envOf("listModels").API_KEY_PARAMETER).toBe(PACKAGE_PARAMS.apiKeyParameter);
    expect(envs.filter((env) => env.includes(KEY) || env.includes("API_KEY\""))).toEqual([]);
    // one read per function at its first request (cached after), every one of them decrypted
    expect([...names]).toEqual([PACKAGE_PARAMS.apiKeyParameter]);
    expect(cloud.ssm.requests.length).toBeGreaterThanOrEqual(10);
    expect(cloud.ssm.requests.every((request) => request.withDecryption === true && request.target === "AmazonSSM.GetParameter")).toBe(true);
  });
});
