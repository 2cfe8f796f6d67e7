import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BadHfReference, hfUrls } from "../../../lib/net/hf-urls";

const HF = "http://hf.local:9002";
const RUNS = { seed: Number(process.env.FC_SEED ?? 12_2026), numRuns: Number(process.env.FC_RUNS ?? 500) };

function refused(run: () => unknown): BadHfReference {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadHfReference);
    return error as BadHfReference;
  }
  throw new Error("expected a BadHfReference");
}

describe("hfUrls", () => {
  it("builds the resolve URL, the model info URL and the licence page of a repo", () => {
    const urls = hfUrls(HF, "stabilityai/stable-diffusion-xl-base-1.0", "vae/sdxl_vae.safetensors");

    expect(urls.resolve.toString()).toBe(`${HF}/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/vae/sdxl_vae.safetensors`);
    expect(urls.api.toString()).toBe(`${HF}/api/models/stabilityai/stable-diffusion-xl-base-1.0`);
    expect(urls.page).toBe(`${HF}/stabilityai/stable-diffusion-xl-base-1.0`);
  });

  it("takes a repo without an owner, as Hugging Face does (gpt2)", () => {
    expect(hfUrls(HF, "gpt2", "model.safetensors").api.pathname).toBe("/api/models/gpt2");
  });

  it("encodes the file's segments and the revision as one segment", () => {
    const urls = hfUrls(HF, "org/repo", "split files/model #1?.safetensors", "refs/pr/7");

    expect(urls.resolve.pathname).toBe("/org/repo/resolve/refs%2Fpr%2F7/split%20files/model%20%231%3F.safetensors");
    expect(urls.resolve.search).toBe("");
  });

  it.each([
    "../api/whoami-v2?x=",
    "a/b/../../api/whoami-v2",
    "org/..",
    "..",
    ".",
    "org/repo/extra",
    "org/repo?x=1",
    "org/repo#x",
    "%2e%2e/api",
    "org name/repo",
    "/org/repo",
    "org//repo",
    "",
  ])("refuses hf_repo %j, saying what a repo id looks like", (repo) => {
    const error = refused(() => hfUrls(HF, repo, "model.safetensors"));

    expect(error.message).toBe(
      `hf_repo ${JSON.stringify(repo)} is not a Hugging Face repo id (<owner>/<name>, letters, digits, '.', '_' and '-')`,
    );
  });

  it.each(["../../../api/whoami-v2", "sub/../../x.bin", "./model.bin", "dir//model.bin", ""])("refuses hf_file %j", (file) => {
    expect(refused(() => hfUrls(HF, "org/repo", file)).message).toMatch(/^hf_file ".*" has an empty, '\.' or '\.\.' part$/);
  });

  it.each(["..", ".", "refs/../.."])("refuses hf_revision %j", (revision) => {
    expect(() => hfUrls(HF, "org/repo", "model.bin", revision)).toThrow(BadHfReference);
  });

  it("aims every URL it builds at that repo's own two paths, whatever the file and revision", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/).filter((part) => part !== "." && part !== "..");
    const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((part) => !part.includes("/") && part !== "." && part !== "..");
    fc.assert(
      fc.property(name, name, fc.array(segment, { minLength: 1, maxLength: 4 }), segment, (owner, repo, parts, revision) => {
        const urls = hfUrls(HF, `${owner}/${repo}`, parts.join("/"), revision);
        const repoPath = `/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;

        expect(urls.api.origin).toBe(HF);
        expect(urls.api.pathname).toBe(`/api/models${repoPath}`);
        expect(urls.api.search + urls.api.hash).toBe("");
        expect(urls.resolve.origin).toBe(HF);
        expect(urls.resolve.pathname.startsWith(`${repoPath}/resolve/${encodeURIComponent(revision)}/`)).toBe(true);
        expect(urls.resolve.search + urls.resolve.hash).toBe("");
      }),
      RUNS,
    );
  });
});
