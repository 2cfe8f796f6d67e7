import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { acceptedForms, linkHosts, recogniseLink, type ModelLink } from "../../../lib/add/link";

const RUNS = { seed: Number(process.env.FC_SEED ?? 12_2026), numRuns: Number(process.env.FC_RUNS ?? 300) };

// as the shared test stack has them: CivitAI and Hugging Face both at one local origin
const local = linkHosts("http://127.0.0.1:4010", "http://127.0.0.1:4010");
const publicOnly = linkHosts("https://civitai.com", "https://huggingface.co");
const mirrors = linkHosts("https://mirror.example/civitai", "https://hf-mirror.example");

const recognised = (text: string, hosts = publicOnly): ModelLink | undefined => recogniseLink(text, hosts);

describe("recogniseLink: CivitAI", () => {
  it("reads a model page as the model, its newest published version to be found", () => {
    expect(recognised("https://civitai.com/models/133005")).toEqual({ kind: "civitai", modelId: 133005 });
    expect(recognised("https://civitai.com/models/133005/juggernaut-xl")).toEqual({ kind: "civitai", modelId: 133005 });
    expect(recognised("https://civitai.com/models/133005/juggernaut-xl/")).toEqual({ kind: "civitai", modelId: 133005 });
  });

  it("reads the version a page's modelVersionId names, with or without the slug", () => {
    expect(recognised("https://civitai.com/models/133005/juggernaut-xl?modelVersionId=456194")).toEqual({ kind: "civitai", modelId: 133005, versionId: 456194 });
    expect(recognised("https://civitai.com/models/133005?modelVersionId=456194")).toEqual({ kind: "civitai", modelId: 133005, versionId: 456194 });
  });

  it("reads a download link as its version, with the query that picks one of its files, and never its token", () => {
    expect(recognised("https://civitai.com/api/download/models/456194")).toEqual({ kind: "civitai", versionId: 456194 });
    expect(recognised("https://civitai.com/api/download/models/456194?token=s3cr3t&type=VAE&format=SafeTensor")).toEqual({
      kind: "civitai",
      versionId: 456194,
      fileQuery: { type: "VAE", format: "SafeTensor" },
    });
  });

  it("reads an AIR with or without its urn: prefix, ecosystem and type, and with a file id or format", () => {
    expect(recognised("urn:air:sdxl:checkpoint:civitai:827184@2514310")).toEqual({ kind: "civitai", modelId: 827184, versionId: 2514310 });
    expect(recognised("air:sdxl:lora:civitai:827184@2514310")).toEqual({ kind: "civitai", modelId: 827184, versionId: 2514310 });
    expect(recognised("URN:AIR:flux1:lora:civitai:1@2")).toEqual({ kind: "civitai", modelId: 1, versionId: 2 });
    expect(recognised("urn:air:civitai:827184")).toEqual({ kind: "civitai", modelId: 827184 });
    expect(recognised("urn:air:sdxl:checkpoint:civitai:827184@2514310+2402203")).toEqual({ kind: "civitai", modelId: 827184, versionId: 2514310, fileId: 2402203 });
    expect(recognised("urn:air:sd1:checkpoint:civitai:4384@128713.safetensors")).toEqual({ kind: "civitai", modelId: 4384, versionId: 128713 });
  });

  it("takes the public sites with or without www. or a scheme, and http as well as https", () => {
    for (const link of ["https://www.civitai.com/models/5", "http://civitai.com/models/5", "civitai.com/models/5", "https://civitai.red/models/5", "  https://CivitAI.com/models/5  "]) {
      expect(recognised(link), link).toEqual({ kind: "civitai", modelId: 5 });
    }
  });

  it("takes CIVITAI_BASE_URL's origin, under its path when it has one", () => {
    expect(recognised("http://127.0.0.1:4010/models/7", local)).toEqual({ kind: "civitai", modelId: 7 });
    expect(recognised("https://mirror.example/civitai/api/download/models/8", mirrors)).toEqual({ kind: "civitai", versionId: 8 });
    expect(recognised("https://mirror.example/models/8", mirrors)).toBeUndefined();
    expect(recognised("http://127.0.0.1:4011/models/7", local)).toBeUndefined();
  });

  it("refuses ids that are not positive whole numbers, other paths, and other AIR sources", () => {
    for (const link of [
      "https://civitai.com/models/0",
      "https://civitai.com/models/12x",
      "https://civitai.com/models/-3",
      "https://civitai.com/models/1?modelVersionId=abc",
      "https://civitai.com/models/1/slug/extra",
      "https://civitai.com/models",
      "https://civitai.com/api/download/models/",
      "https://civitai.com/api/download/models/9999999999999999",
      "https://civitai.com/images/123",
      "https://civitai.com/user/someone",
      "urn:air:sdxl:vae:huggingface:stabilityai/sdxl-vae",
      "urn:air:sdxl:lora:civitai:1@x",
      "urn:air:a:b:c:civitai:1@2",
    ]) {
      expect(recognised(link), link).toBeUndefined();
    }
  });
});

describe("recogniseLink: Hugging Face", () => {
  it("reads blob and resolve links as the repo, revision and path of one file", () => {
    const file = { kind: "huggingface", repo: "Comfy-Org/flux1-dev", revision: "main", path: "split_files/vae/ae.safetensors" };
    expect(recognised("https://huggingface.co/Comfy-Org/flux1-dev/blob/main/split_files/vae/ae.safetensors")).toEqual(file);
    expect(recognised("https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/split_files/vae/ae.safetensors?download=true")).toEqual(file);
    expect(recognised("https://hf.co/Comfy-Org/flux1-dev/resolve/main/split_files/vae/ae.safetensors")).toEqual(file);
    expect(recognised("https://www.huggingface.co/Comfy-Org/flux1-dev/blob/main/split_files/vae/ae.safetensors")).toEqual(file);
  });

  it("keeps a revision other than main, decoding one in refs/pr form, and decodes the path's segments", () => {
    expect(recognised("https://huggingface.co/org/repo/blob/refs%2Fpr%2F12/a%20b/c.safetensors")).toEqual({
      kind: "huggingface",
      repo: "org/repo",
      revision: "refs/pr/12",
      path: "a b/c.safetensors",
    });
    expect(recognised("https://huggingface.co/org/repo/resolve/0123abcd/x.gguf")).toMatchObject({ revision: "0123abcd" });
  });

  it("takes HF_ENDPOINT's origin, and tells the two apart by form when they share one", () => {
    expect(recognised("http://127.0.0.1:4010/org/repo/resolve/main/vae/x.safetensors", local)).toEqual({
      kind: "huggingface",
      repo: "org/repo",
      revision: "main",
      path: "vae/x.safetensors",
    });
    // an org named "models" is still Hugging Face: CivitAI has no five-segment form
    expect(recognised("http://127.0.0.1:4010/models/repo/blob/main/x.safetensors", local)).toMatchObject({ kind: "huggingface", repo: "models/repo" });
  });

  it("refuses repo pages, datasets and spaces, paths with empty, '.' or '..' parts, and bad encoding", () => {
    for (const link of [
      "https://huggingface.co/org/repo",
      "https://huggingface.co/org/repo/tree/main/vae",
      "https://huggingface.co/org/repo/blob/main",
      "https://huggingface.co/org/repo/blob/main/",
      "https://huggingface.co/datasets/org/repo/resolve/main/x.bin",
      "https://huggingface.co/spaces/org/repo/resolve/main/x.bin",
      "https://huggingface.co/org/repo/resolve/main/a//b.bin",
      "https://huggingface.co/org/repo/resolve/main/a%2Fb.bin",
      "https://huggingface.co/org/repo/resolve/main/a%ZZ.bin",
      "https://huggingface.co/org/re%20po/resolve/main/a.bin",
      "https://huggingface.co/org/repo/resolve/%2E%2E/a.bin",
    ]) {
      expect(recognised(link), link).toBeUndefined();
    }
  });

  it("reads a '..' in the path as the URL standard resolves it, so none reaches hf_file", () => {
    expect(recognised("https://huggingface.co/org/repo/resolve/main/a/%2E%2E/b.bin")).toMatchObject({ repo: "org/repo", path: "b.bin" });
    expect(recognised("https://huggingface.co/org/repo/resolve/main/../../x/y/resolve/main/b.bin")).toBeUndefined();
  });
});

describe("recogniseLink: anything else", () => {
  it("refuses other hosts, schemes and text", () => {
    for (const link of [
      "https://evil.example/models/1",
      "https://civitai.com.evil.example/models/1",
      "https://huggingface.co.evil.example/org/repo/resolve/main/x.bin",
      "ftp://civitai.com/models/1",
      "file:///models/1",
      "javascript:alert(1)",
      "",
      "   ",
      "hello world",
      "https://civitai.com:8443/models/1",
      `https://civitai.com/models/1/${"a".repeat(5000)}`,
    ]) {
      expect(recognised(link), link).toBeUndefined();
    }
  });

  it("says every accepted form and host, and no more than the configured origins", () => {
    const text = acceptedForms(linkHosts("https://user:pw@mirror.example/civitai", "https://huggingface.co"));

    for (const part of ["/models/<modelId>", "modelVersionId", "/api/download/models/<versionId>", "urn:air:", "/blob/", "/resolve/", "civitai.red", "hf.co", "https://mirror.example/civitai"]) {
      expect(text).toContain(part);
    }
    expect(text).not.toContain("pw");
  });
});

describe("recogniseLink: properties", () => {
  const id = fc.integer({ min: 1, max: 999_999_999_999_999 });
  const slug = fc.stringMatching(/^[a-z0-9-]{1,30}$/);
  const civitaiHost = fc.constantFrom("https://civitai.com", "https://www.civitai.com", "http://civitai.red", "http://127.0.0.1:4010");
  const hfHost = fc.constantFrom("https://huggingface.co", "https://hf.co", "https://www.hf.co", "http://127.0.0.1:4010");
  const repoPart = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/).filter((part) => part !== "." && part !== ".." && !["api", "datasets", "spaces", "docs", "collections", "papers", "settings"].includes(part));
  const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((part) => part !== "." && part !== ".." && !/[/\\\0]/.test(part));

  it("reads back the ids of every CivitAI form it writes", () => {
    fc.assert(
      fc.property(civitaiHost, id, id, slug, fc.constantFrom("sdxl", "sd1", "flux1"), fc.constantFrom("checkpoint", "lora", "vae"), (host, modelId, versionId, name, eco, type) => {
        expect(recogniseLink(`${host}/models/${modelId}`, local)).toEqual({ kind: "civitai", modelId });
        expect(recogniseLink(`${host}/models/${modelId}/${name}?modelVersionId=${versionId}`, local)).toEqual({ kind: "civitai", modelId, versionId });
        expect(recogniseLink(`${host}/api/download/models/${versionId}`, local)).toEqual({ kind: "civitai", versionId });
        expect(recogniseLink(`urn:air:${eco}:${type}:civitai:${modelId}@${versionId}`, local)).toEqual({ kind: "civitai", modelId, versionId });
      }),
      RUNS,
    );
  });

  it("reads back the repo, revision and path of every Hugging Face link it writes, blob and resolve alike", () => {
    fc.assert(
      fc.property(hfHost, repoPart, repoPart, segment, fc.array(segment, { minLength: 1, maxLength: 4 }), fc.constantFrom("blob", "resolve"), (host, org, name, revision, path, kind) => {
        const link = `${host}/${org}/${name}/${kind}/${encodeURIComponent(revision)}/${path.map(encodeURIComponent).join("/")}`;
        expect(recogniseLink(link, local)).toEqual({ kind: "huggingface", repo: `${org}/${name}`, revision, path: path.join("/") });
      }),
      RUNS,
    );
  });

  it("never throws, and recognises nothing on a host that is neither CivitAI nor Hugging Face", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })), (text) => {
        const found = recogniseLink(text, publicOnly);
        if (found === undefined || /^\s*(urn:)?air:/i.test(text)) return;
        const host = new URL(/^[a-z][a-z\d+.-]*:\/\//i.test(text.trim()) ? text.trim() : `https://${text.trim()}`).hostname;
        expect(["civitai.com", "civitai.red", "huggingface.co", "hf.co"].map((h) => [h, `www.${h}`]).flat()).toContain(host);
      }),
      RUNS,
    );
  });
});
