import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CatalogModel } from "../../../lib/catalog/schema";
import { entrySources, preferredSource, type SourceKind } from "../../../lib/catalog/sources";

const entry = (fields: Partial<CatalogModel>): CatalogModel => ({ name: "m", file: "m.safetensors", dest: "loras", ...fields }) as CatalogModel;

describe("entrySources", () => {
  it("reads a Hugging Face file at main unless the entry names a revision, the entry's file unless it names hf_file", () => {
    expect(entrySources(entry({ hf_repo: "org/repo" })).huggingface).toEqual({ repo: "org/repo", file: "m.safetensors", revision: "main" });
    expect(entrySources(entry({ hf_repo: "org/repo", hf_file: "split/vae.sft", hf_revision: "v2" })).huggingface).toEqual({
      repo: "org/repo",
      file: "split/vae.sft",
      revision: "v2",
    });
  });

  it("ignores empty strings and a null version: an entry with none of them has no source", () => {
    const none = entry({ url: "", hf_repo: "", civitai_version_id: null });
    expect(entrySources(none)).toEqual({});
    expect(preferredSource(none)).toBeUndefined();
  });
});

describe("entrySources: which of a CivitAI version's files", () => {
  it("reads civitai_file_query as CivitAI's download route takes it, in a fixed order", () => {
    expect(entrySources(entry({ civitai_version_id: "12", civitai_file_query: "type=Pruned%20Model&format=SafeTensor" })).civitai).toEqual({
      versionId: 12,
      fileQuery: "format=SafeTensor&type=Pruned+Model",
    });
    expect(entrySources(entry({ civitai_version_id: 12 })).civitai).toEqual({ versionId: 12 });
  });

  it("keeps only type, format, size and fp with plain values: catalog text cannot add a token or another parameter", () => {
    const sources = entrySources(entry({ civitai_version_id: 12, civitai_file_query: "token=x&type=VAE&redirect=http://evil&fp=fp16&type=Other&size=a%26b" }));
    expect(sources.civitai).toEqual({ versionId: 12, fileQuery: "fp=fp16&type=VAE" });
    fc.assert(
      fc.property(fc.string(), (query) => {
        const kept = entrySources(entry({ civitai_version_id: 1, civitai_file_query: query })).civitai?.fileQuery;
        if (kept === undefined) return;
        const names = [...new URLSearchParams(kept).keys()];
        expect(names.every((name) => ["type", "format", "size", "fp"].includes(name))).toBe(true);
        expect(new Set(names).size).toBe(names.length);
      }),
    );
  });
});

describe("preferredSource", () => {
  const kinds: SourceKind[] = ["url", "huggingface", "civitai"];
  const fields = { url: { url: "https://example.com/m.safetensors" }, huggingface: { hf_repo: "org/repo" }, civitai: { civitai_version_id: 7 } };

  it("takes the source the entry names when it has it, else url, then Hugging Face, then CivitAI, among the kinds asked for", () => {
    fc.assert(
      fc.property(
        fc.subarray(kinds),
        fc.constantFrom(undefined, "url", "huggingface", "hf", "civitai", "other"),
        fc.subarray(kinds, { minLength: 1 }),
        (has, named, among) => {
          const model = entry(Object.assign({ source: named }, ...has.map((kind) => fields[kind])));
          const wanted = named === "hf" ? "huggingface" : named;
          const expected = has.includes(wanted as SourceKind) && among.includes(wanted as SourceKind)
            ? wanted
            : kinds.find((kind) => has.includes(kind) && among.includes(kind));
          expect(preferredSource(model, among)).toBe(expected);
        },
      ),
    );
  });

  it("lets metadata describe the file downloads fetch: an entry on both Hugging Face and CivitAI is fetched from Hugging Face", () => {
    const both = entry({ hf_repo: "org/repo", civitai_version_id: 7 });
    expect(preferredSource(both)).toBe("huggingface");
    expect(preferredSource(both, ["huggingface", "civitai"])).toBe("huggingface");
    expect(preferredSource({ ...both, source: "civitai" }, ["huggingface", "civitai"])).toBe("civitai");
  });
});
