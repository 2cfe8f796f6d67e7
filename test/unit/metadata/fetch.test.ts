import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CatalogModel } from "../../../lib/catalog/schema";
import { parseConfig } from "../../../lib/config";
import { fetchMetadata } from "../../../lib/metadata/fetch";

const SHA = { main: "a".repeat(64), v2: "b".repeat(64) };

/** Hugging Face in its real shapes: model info, and a file's HEAD with X-Linked-Size/X-Linked-Etag per revision. */
let server: Server;
const heads: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? "";
    if (url === "/api/v1/model-versions/5" || url === "/api/v1/models/9") {
      const file = (name: string, primary: boolean, sha: string) => ({ name, primary, type: primary ? "Model" : "VAE", sizeKB: 1024, hashes: { SHA256: sha.toUpperCase() } });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(url.includes("versions")
        ? { id: 5, modelId: 9, name: "v1", model: { name: "M", type: "Checkpoint" }, files: [file("model.safetensors", true, SHA.main), file("vae.safetensors", false, SHA.v2)] }
        : { id: 9, name: "M", type: "Checkpoint", tags: [], modelVersions: [] }));
      return;
    }
    if (url === "/api/models/org/repo") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ id: "org/repo", modelId: "org/repo", lastModified: "2026-01-02T03:04:05.000Z", siblings: [] }));
      return;
    }
    const revision = /^\/org\/repo\/resolve\/([^/]+)\/vae\.safetensors$/.exec(url)?.[1];
    if (req.method === "HEAD" && (revision === "main" || revision === "v2")) {
      heads.push(url);
      res.writeHead(302, { location: `https://cas-bridge.example/${revision}`, "x-linked-size": "2147483648", "x-linked-etag": `"${SHA[revision]}"` });
      res.end();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("fetchMetadata from Hugging Face", () => {
  const config = () => parseConfig({ HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, os.tmpdir());
  const model = (fields: Partial<CatalogModel>) =>
    ({ name: "VAE", file: "vae.safetensors", dest: "vae", hf_repo: "org/repo", ...fields }) as CatalogModel;

  it("reads the SHA256 of the revision a download fetches, not main's", async () => {
    heads.length = 0;
    const { fields } = await fetchMetadata(model({ hf_revision: "v2" }), config());
    expect(heads).toEqual(["/org/repo/resolve/v2/vae.safetensors"]);
    expect(fields).toMatchObject({ sha256: SHA.v2, size_gb: 2, lastModified: "2026-01-02T03:04:05.000Z" });
  });

  it("reads main's when the entry names no revision", async () => {
    heads.length = 0;
    const { fields } = await fetchMetadata(model({}), config());
    expect(heads).toEqual(["/org/repo/resolve/main/vae.safetensors"]);
    expect(fields).toMatchObject({ sha256: SHA.main });
  });
});

describe("fetchMetadata from CivitAI", () => {
  const config = () => parseConfig({ CIVITAI_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, os.tmpdir());
  const model = (fields: Partial<CatalogModel>) =>
    ({ name: "M", file: "vae.safetensors", dest: "vae", civitai_version_id: "5", ...fields }) as CatalogModel;

  it("describes the file a civitai_file_query picks, by its name, not the version's primary file", async () => {
    const { fields } = await fetchMetadata(model({ civitai_file_query: "type=VAE" }), config());
    expect(fields).toMatchObject({ sha256: SHA.v2 });
  });

  it("describes the primary file, which downloads fetch, for an entry without one", async () => {
    const { fields } = await fetchMetadata(model({}), config());
    expect(fields).toMatchObject({ sha256: SHA.main });
  });
});
