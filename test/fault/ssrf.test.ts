import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog, type TestModel } from "../support/catalogs";
import { dirsWithCatalog, waitFor } from "../support/fault-kit";
import { INTERNAL_SECRET as SECRET, startInternalService, type InternalService } from "../support/internal-service";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import type { UpstreamClient } from "../support/upstream";

/**
 * A catalog may name any URL, and an upstream may redirect anywhere (issue 12, item 3). Here a service on
 * the pod (a server on 127.0.0.1 that answers /admin with a secret) is what a catalog aims at: with
 * ALLOW_PRIVATE_URLS off it hears nothing, every such download and metadata fetch fails saying what was
 * refused and naming ALLOW_PRIVATE_URLS, and the secret of an error answer shows nowhere a person or a
 * client can read: the status stream, the listing, status.json, the activity log, the stack's log.
 * (With the switch on, the same URL downloads: test/integration/private-urls.test.ts, on the shared stack.)
 */

const entry = (file: string, extra: Partial<TestModel>): TestModel => ({ name: file, file, dest: "checkpoints", ...extra });

interface StatusEntry {
  status: string;
  error?: string;
}

/** Queues these models and waits until each has ended. */
async function downloadAll(own: OwnStack, models: readonly TestModel[]): Promise<Record<string, StatusEntry>> {
  const files = models.map((model) => model.file);
  const queued = await own.call("POST", "/api/admin/models/download-batch", { json: { filenames: files } });
  expect(queued.status).toBe(200);
  return waitFor(
    async () => {
      const { downloads } = await own.readStatus();
      return files.every((file) => downloads[file]?.status === "done" || downloads[file]?.status === "error") ? downloads : undefined;
    },
    "every download to end",
    60_000,
  );
}

/** Runs a metadata fetch of every model and waits until it has ended. */
async function fetchMetadata(own: OwnStack): Promise<Record<string, StatusEntry>> {
  expect((await own.call("POST", "/api/admin/models/fetch-metadata")).status).toBe(200);
  return waitFor(
    async () => {
      const { json } = await own.call<Record<string, StatusEntry>>("GET", "/api/admin/models/metadata-status");
      const entries = Object.values(json);
      return entries.length > 0 && entries.every((e) => e.status === "done" || e.status === "error") ? json : undefined;
    },
    "the metadata run to end",
    60_000,
  );
}

/** Everything a client or a person can read of the stack, as text. */
async function everythingShown(own: OwnStack): Promise<Record<string, string>> {
  return {
    "the status stream": (await own.call("GET", "/api/admin/models/status?max_seconds=1")).text,
    "the listing": (await own.call("GET", "/api/admin/models")).text,
    "the metadata status": (await own.call("GET", "/api/admin/models/metadata-status")).text,
    "the activity log": (await own.call("GET", "/api/admin/activity-log")).text,
    "status.json": await readFile(own.statusFile, "utf8"),
    "the stack's log": await own.log(),
  };
}

const REFUSED = /^Refused to connect to (127\.0\.0\.1|::1) \(loopback\) for [^ ]+: set ALLOW_PRIVATE_URLS=true to allow private addresses$/;

/** Catalog entries aimed at the pod's service: directly, by name, through redirects, through hf_repo. */
function aimedAtThePod(up: UpstreamClient, internal: InternalService) {
  const port = new URL(internal.origin).port;
  return {
    literal: entry("literal.safetensors", { source: "url", url: `${internal.origin}/admin` }),
    literalModel: entry("literal_model.safetensors", { source: "url", url: `${internal.origin}/model.safetensors` }),
    byName: entry("by_name.safetensors", { source: "url", url: `http://localhost:${port}/admin` }),
    redirected: entry("redirected.safetensors", { source: "url", url: up.fileUrl("ssrf/redirect") }),
    serverError: entry("server_error.safetensors", { source: "url", url: up.fileUrl("ssrf/server-error") }),
    cdn: entry("cdn.safetensors", { source: "huggingface", hf_repo: "ssrf/cdn", hf_file: "model.safetensors" }),
    whoami: entry("whoami.safetensors", { source: "huggingface", hf_repo: "../api/whoami-v2?x=", hf_file: "model.safetensors" }),
    climbing: entry("climbing.safetensors", { source: "huggingface", hf_repo: "a/b/../../api/whoami-v2", hf_file: "model.safetensors" }),
    // metadata only: CivitAI's API redirects to the pod, or answers with text that is not JSON
    metaRedirect: entry("meta_redirect.safetensors", { source: "civitai", civitai_version_id: "4242" }),
    metaNotJson: entry("meta_not_json.safetensors", { source: "civitai", civitai_version_id: "4343" }),
  };
}

describe("with ALLOW_PRIVATE_URLS off (the default)", () => {
  let own: OwnStack;
  let internal: InternalService;
  let models: ReturnType<typeof aimedAtThePod>;
  let downloads: Record<string, StatusEntry>;
  let metadata: Record<string, StatusEntry>;

  beforeAll(async () => {
    internal = await startInternalService();
    own = await startOwnStack({ ALLOW_PRIVATE_URLS: "false" }, await dirsWithCatalog("models-admin-ssrf-", []));
    // the configured upstream (127.0.0.1, allowed as configured) redirects to the pod's own service
    await own.up.can({ path: "/files/ssrf/redirect", status: 302, headers: { Location: `${internal.origin}/admin` } });
    await own.up.can({ path: "/files/ssrf/server-error", status: 500, body: `stack trace: ${SECRET}` });
    await own.up.can({ path: "/api/v1/model-versions/4242", status: 302, headers: { Location: `${internal.origin}/admin` } });
    await own.up.can({ path: "/api/v1/model-versions/4343", status: 200, body: `${SECRET} is not JSON` });
    // resolve/ redirects to the stand-in's CDN at its other name, localhost: another origin, on loopback
    await own.up.register({ id: "ssrf/cdn/model.safetensors", size: 64 * 1024 });
    models = aimedAtThePod(own.up, internal);
    await writeCatalog(own.stack.studioDir, "models", catalog([{ id: "ssrf", name: "SSRF", models: Object.values(models) }]));
    downloads = await downloadAll(own, Object.values(models).filter((model) => model.source !== "civitai"));
    metadata = await fetchMetadata(own);
  });

  afterAll(async () => {
    await own?.close();
    await internal?.close();
  });

  it.each([
    ["literal", "a catalog url at 127.0.0.1"],
    ["literalModel", "a catalog url at 127.0.0.1 that serves a model"],
    ["byName", "a catalog url whose name resolves to 127.0.0.1"],
    ["redirected", "a redirect from the configured upstream to another private origin"],
    ["cdn", "Hugging Face's redirect to a CDN on another loopback origin"],
  ])("refuses %s (%s), naming ALLOW_PRIVATE_URLS", (name) => {
    expect(downloads[models[name as keyof typeof models].file]).toMatchObject({ status: "error", error: expect.stringMatching(REFUSED) });
  });

  it("connects to nothing on the pod: its service heard no request", () => {
    expect(internal.heard).toEqual([]);
  });

  it("refuses a redirect that a metadata fetch would follow to the pod", () => {
    expect(metadata[models.metaRedirect.file]).toEqual({ status: "error", error: expect.stringMatching(REFUSED) });
  });

  it("says the status and the host of an upstream 5xx, not what its body says", () => {
    expect(downloads[models.serverError.file]).toMatchObject({
      status: "error",
      error: expect.stringMatching(/^Gave up after \d+ tries: HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/files\/ssrf\/server-error: the server failed; try again later$/),
    });
  });

  it("says that a metadata answer is not JSON, not what it says instead", () => {
    expect(metadata[models.metaNotJson.file]).toEqual({
      status: "error",
      error: expect.stringMatching(/^127\.0\.0\.1:\d+ answered HTTP 200 with something that is not JSON$/),
    });
  });

  it("refuses an hf_repo that would aim HF_TOKEN at another API path, and sends nothing there", async () => {
    for (const model of [models.whoami, models.climbing]) {
      expect(downloads[model.file]).toMatchObject({ status: "error", error: expect.stringMatching(/is not a Hugging Face repo id/) });
      expect(metadata[model.file]).toEqual({ status: "error", error: expect.stringMatching(/is not a Hugging Face repo id/) });
    }
    const asked = (await own.up.log()).map((line) => line.path);
    expect(asked.filter((p) => p.includes("whoami"))).toEqual([]);
  });

  it("shows the secret of an error answer nowhere: status stream, listing, status.json, activity log, log", async () => {
    const shown = await everythingShown(own);

    for (const [where, text] of Object.entries(shown)) expect(text.includes(SECRET), where).toBe(false);
    // and the refusals are what those places say instead
    expect(shown["the status stream"]).toContain("ALLOW_PRIVATE_URLS");
    expect(shown["the listing"]).toContain("ALLOW_PRIVATE_URLS");
    expect(shown["the activity log"]).toContain("ALLOW_PRIVATE_URLS");
  });
});
