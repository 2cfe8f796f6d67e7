import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CatalogModel } from "../../../../lib/catalog/schema";
import { parseConfig, type Config } from "../../../../lib/config";
import { DownloadError } from "../../../../lib/downloads/engine/errors";
import { resolveSource, type Source } from "../../../../lib/downloads/engine/source";

const HF_TOKEN = "hf_unitTestToken0123456789";
const CIVITAI_API_KEY = "civitaiUnitTestKey0123456789";
const studioDir = path.join(os.tmpdir(), "models-admin-unit-source");

const configWith = (env: Record<string, string> = {}): Config =>
  parseConfig({ HF_ENDPOINT: "http://hf.local", CIVITAI_BASE_URL: "http://civ.local", STUDIO_DIR: studioDir, ...env }, studioDir);
const withTokens = () => configWith({ HF_TOKEN, CIVITAI_API_KEY });
const withoutTokens = () => configWith();

const entry = (extra: Record<string, unknown>): CatalogModel =>
  CatalogModel.parse({ name: "A model", file: "model.safetensors", dest: "checkpoints", ...extra });

const hf = (extra: Record<string, unknown> = {}) =>
  entry({ source: "huggingface", hf_repo: "org/repo", hf_file: "model.safetensors", ...extra });
const civ = (extra: Record<string, unknown> = {}) => entry({ source: "civitai", civitai_version_id: 123456, ...extra });

function failure(run: () => unknown): DownloadError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DownloadError);
    return error as DownloadError;
  }
  throw new Error("expected a DownloadError");
}

/** The whole Source, as a log line or an error would show it. */
const printed = (source: Source): string => `${JSON.stringify(source)} ${String(source)}`;

describe("resolveSource: Hugging Face", () => {
  it("downloads from HF_ENDPOINT/<repo>/resolve/main/<hf_file>", () => {
    const source = resolveSource(hf(), withoutTokens());

    expect(source.kind).toBe("huggingface");
    expect(source.url.toString()).toBe("http://hf.local/org/repo/resolve/main/model.safetensors");
    expect(source.label).toBe("http://hf.local/org/repo/resolve/main/model.safetensors");
    expect(source.page).toBe("http://hf.local/org/repo");
    expect(source.key).toBe("hf:org/repo@main/model.safetensors");
  });

  it("encodes spaces and unicode in each path segment and keeps the slashes of nested folders", () => {
    const source = resolveSource(hf({ hf_file: "split files/ünïcode dir/model #1?.safetensors" }), withoutTokens());

    expect(source.url.pathname).toBe(
      "/org/repo/resolve/main/split%20files/%C3%BCn%C3%AFcode%20dir/model%20%231%3F.safetensors",
    );
    expect(source.url.search).toBe("");
    expect(source.url.hash).toBe("");
  });

  it("uses the entry's file when there is no hf_file", () => {
    const source = resolveSource(hf({ hf_file: null, file: "plain.safetensors" }), withoutTokens());

    expect(source.url.pathname).toBe("/org/repo/resolve/main/plain.safetensors");
  });

  it("honours hf_revision in the URL and the key", () => {
    const source = resolveSource(hf({ hf_revision: "refs/pr/7" }), withoutTokens());

    expect(source.url.pathname).toBe("/org/repo/resolve/refs%2Fpr%2F7/model.safetensors");
    expect(source.key).toBe("hf:org/repo@refs/pr/7/model.safetensors");
  });

  it("sends Authorization: Bearer HF_TOKEN when it is set", () => {
    const source = resolveSource(hf(), withTokens());

    expect(Object.keys(source.authHeaders)).toEqual(["authorization"]);
    expect(source.authHeaders.authorization!.reveal()).toBe(`Bearer ${HF_TOKEN}`);
  });

  it("sends no Authorization header without HF_TOKEN", () => {
    const source = resolveSource(hf(), withoutTokens());

    expect(source.authHeaders).toEqual({});
  });

  it("keeps the token out of the URL, label, page and key", () => {
    const source = resolveSource(hf(), withTokens());

    for (const text of [source.url.toString(), source.label, source.page, source.key]) {
      expect(text).not.toContain(HF_TOKEN);
    }
    expect(String(source)).not.toContain(HF_TOKEN);
  });

  it.each([
    ["../api/whoami-v2?x=", "model.safetensors"],
    ["a/b/../../api/whoami-v2", "model.safetensors"],
    ["org/repo", "../../../api/whoami-v2"],
  ])("refuses hf_repo %j with hf_file %j rather than aim HF_TOKEN at another path", (hf_repo, hf_file) => {
    const error = failure(() => resolveSource(hf({ hf_repo, hf_file }), withTokens()));

    expect(error.message).toMatch(/^The catalog entry of model\.safetensors: hf_(repo|file) ".*" (is not a Hugging Face repo id|has an empty)/);
    expect(error.retryable).toBe(false);
  });

  it("JSON.stringify of a Hugging Face source does not show HF_TOKEN", () => {
    const source = resolveSource(hf(), withTokens());

    expect(JSON.stringify(source)).not.toContain(HF_TOKEN);
  });
});

describe("resolveSource: CivitAI", () => {
  it("downloads from CIVITAI_BASE_URL/api/download/models/<version id> with ?token= when the key is set", () => {
    const source = resolveSource(civ(), withTokens());

    expect(source.kind).toBe("civitai");
    expect(source.url.origin + source.url.pathname).toBe("http://civ.local/api/download/models/123456");
    expect(source.url.search).toBe("");
    expect(source.authQuery.token!.reveal()).toBe(CIVITAI_API_KEY);
    expect(source.authHeaders).toEqual({});
    expect(source.key).toBe("civitai:123456");
  });

  it("asks for the file an entry's civitai_file_query picks, and keys its partial apart from the primary file's", () => {
    const source = resolveSource(civ({ civitai_file_query: "type=VAE&format=SafeTensor" }), withTokens());

    expect(source.url.toString()).toBe("http://civ.local/api/download/models/123456?format=SafeTensor&type=VAE");
    expect(source.label).toBe("http://civ.local/api/download/models/123456?format=SafeTensor&type=VAE");
    expect(source.key).toBe("civitai:123456?format=SafeTensor&type=VAE");
    expect(source.authQuery.token!.reveal()).toBe(CIVITAI_API_KEY);
  });

  it("has no token in the URL without a key", () => {
    const source = resolveSource(civ({ civitai_version_id: "987" }), withoutTokens());

    expect(source.url.toString()).toBe("http://civ.local/api/download/models/987");
    expect(source.authQuery).toEqual({});
    expect(source.authHeaders).toEqual({});
  });

  it("labels the download without the token", () => {
    const source = resolveSource(civ(), withTokens());

    expect(source.label).toBe("http://civ.local/api/download/models/123456");
    expect(source.key).not.toContain(CIVITAI_API_KEY);
  });

  it("keeps the key a Secret until the request: no printing of the Source shows it", () => {
    // The token travels in the query (a header breaks CivitAI's signed storage URL); it is added only
    // when the request to CivitAI itself is made.
    const source = resolveSource(civ(), withTokens());

    expect(JSON.stringify(source)).not.toContain(CIVITAI_API_KEY);
    expect(String(source.url)).not.toContain(CIVITAI_API_KEY);
  });
});

describe("resolveSource: plain url", () => {
  it("downloads from the entry's url and labels it without its query", () => {
    const source = resolveSource(entry({ source: "url", url: "https://files.example/dir/m.safetensors?sig=abc" }), withTokens());

    expect(source.kind).toBe("url");
    expect(source.url.toString()).toBe("https://files.example/dir/m.safetensors?sig=abc");
    expect(source.label).toBe("https://files.example/dir/m.safetensors");
    expect(source.authHeaders).toEqual({});
    expect(printed(source)).not.toContain(HF_TOKEN);
    expect(printed(source)).not.toContain(CIVITAI_API_KEY);
  });

  it("refuses a url that is not http(s)", () => {
    const error = failure(() => resolveSource(entry({ url: "file:///etc/passwd" }), withoutTokens()));

    expect(error.message).toBe("The catalog's url for model.safetensors must be http(s), not file:");
    expect(error.retryable).toBe(false);
  });

  it("refuses a url that is not a URL", () => {
    const error = failure(() => resolveSource(entry({ url: "not a url" }), withoutTokens()));

    expect(error.message).toBe("The catalog's url for model.safetensors is not a URL");
  });
});

describe("resolveSource: the addresses a download may reach", () => {
  it("trusts the configured upstreams' origins and takes ALLOW_PRIVATE_URLS from the configuration", () => {
    for (const make of [hf, civ, () => entry({ url: "http://10.0.0.5/m.safetensors" })]) {
      expect(resolveSource(make(), withoutTokens()).policy).toEqual({ allowPrivate: false, trustedOrigins: ["http://civ.local", "http://hf.local"] });
      expect(resolveSource(make(), configWith({ ALLOW_PRIVATE_URLS: "true" })).policy.allowPrivate).toBe(true);
    }
  });
});

describe("resolveSource: choosing among several", () => {
  const all = { url: "http://files.local/m.safetensors", hf_repo: "org/repo", hf_file: "m.safetensors", civitai_version_id: 55 };

  it.each([
    ["huggingface", "huggingface"],
    ["hf", "huggingface"],
    ["civitai", "civitai"],
    ["url", "url"],
  ] as const)("follows source %j to %s", (source, kind) => {
    expect(resolveSource(entry({ ...all, source }), withoutTokens()).kind).toBe(kind);
  });

  it("prefers url, then Hugging Face, then CivitAI when the entry names no source", () => {
    const config = withoutTokens();

    expect(resolveSource(entry({ ...all }), config).kind).toBe("url");
    expect(resolveSource(entry({ ...all, url: null }), config).kind).toBe("huggingface");
    expect(resolveSource(entry({ ...all, url: null, hf_repo: null }), config).kind).toBe("civitai");
  });

  it("falls back to what the entry has when its source names one it lacks", () => {
    expect(resolveSource(entry({ source: "civitai", hf_repo: "org/repo" }), withoutTokens()).kind).toBe("huggingface");
  });

  it("ignores a source value that happens to be an Object.prototype member", () => {
    expect(resolveSource(entry({ source: "constructor", url: "http://files.local/m.safetensors" }), withoutTokens()).kind).toBe("url");
  });

  it("fails with what it needs when the entry has no source at all", () => {
    const error = failure(() => resolveSource(entry({ source: "huggingface" }), withoutTokens()));

    expect(error.message).toBe(
      "model.safetensors has no download source in the catalog: it needs url, hf_repo or civitai_version_id",
    );
    expect(error.retryable).toBe(false);
  });
});
