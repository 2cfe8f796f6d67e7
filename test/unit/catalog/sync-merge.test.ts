/**
 * mergeCatalogs (lib/catalog/sync.ts) for any pair of catalogs drawn from a few files, categories and
 * fields, so that entries meet in every way: on both sides, imported or not, with a locked name, with
 * fetched metadata on one side, the other or both.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeCatalogs } from "../../../lib/catalog/sync";
import type { CatalogDocument } from "../../../lib/catalog/schema";

/** What the metadata fetch writes: a local value fills the remote entry's gap. */
const FETCHED = ["base_model", "trainedWords", "civitai_model_id", "civitai_version", "civitai_type", "civitai_tags", "lastModified", "size_gb", "sha256"];
const FILES = ["a.safetensors", "b.safetensors", "c.pt", "d.pt", "e.gguf", "f.bin"];

type Entry = Record<string, unknown> & { name: string; file: string; dest: string };

const entry = (file: string) =>
  fc
    .record(
      {
        name: fc.constantFrom("Local name", "Remote name", "Other"),
        dest: fc.constantFrom("checkpoints", "loras/sdxl"),
        tags: fc.subarray(["imported", "style", "sdxl"]),
        name_locked: fc.boolean(),
        note: fc.constantFrom("mine", "theirs"),
        base_model: fc.constantFrom("SDXL 1.0", "SD 1.5"),
        civitai_tags: fc.subarray(["anime", "photo"]),
        size_gb: fc.constantFrom(0.3, 6.46),
        sha256: fc.constantFrom("a".repeat(64), "b".repeat(64)),
        civitai_model_id: fc.constantFrom(1, 2),
      },
      { requiredKeys: ["name", "dest"] },
    )
    .map((fields): Entry => ({ ...fields, file }));

const catalog = (version: number) =>
  fc
    .uniqueArray(fc.constantFrom(...FILES), { maxLength: FILES.length })
    .chain((files) => fc.tuple(...files.map((file) => fc.tuple(fc.constantFrom("x", "y", "z"), entry(file)))))
    .map((placed): CatalogDocument => {
      const categories = new Map<string, Entry[]>();
      for (const [id, model] of placed) categories.set(id, [...(categories.get(id) ?? []), model]);
      return { version, date: `v${version}`, categories: [...categories].map(([id, models]) => ({ id, name: id.toUpperCase(), models })) };
    });

const pair = fc.tuple(catalog(1), catalog(2));
const entries = (doc: CatalogDocument) => doc.categories.flatMap((category) => category.models as Entry[]);
const byFile = (doc: CatalogDocument) => new Map(entries(doc).map((model) => [model.file, model]));
const isImport = (model: Entry) => (model.tags as string[] | undefined)?.includes("imported") === true;

describe("mergeCatalogs, for any two catalogs", () => {
  it("takes every remote entry in its place, filling only fetched fields and a locked name from the local one", () => {
    fc.assert(
      fc.property(pair, ([local, remote]) => {
        const merged = mergeCatalogs(local, remote);
        const mine = byFile(local);
        remote.categories.forEach((category, c) => {
          (category.models as Entry[]).forEach((theirs, i) => {
            const got = merged.categories[c]!.models[i] as Entry;
            const own = mine.get(theirs.file);
            const locked = own?.name_locked === true;
            expect(got.file).toBe(theirs.file);
            expect(got.name).toBe(locked ? own!.name : theirs.name);
            for (const [field, value] of Object.entries(got)) {
              if (field === "name" || (field === "name_locked" && locked)) continue;
              expect(value, field).toEqual(field in theirs || !FETCHED.includes(field) ? theirs[field] : own?.[field]);
            }
            for (const field of FETCHED) expect(got[field], field).toEqual(theirs[field] ?? own?.[field]);
          });
        });
      }),
    );
  });

  it("keeps the remote's files and the local imports it lacks, each once, the imports as they were", () => {
    fc.assert(
      fc.property(pair, ([local, remote]) => {
        const merged = mergeCatalogs(local, remote);
        const theirs = byFile(remote);
        const kept = entries(local).filter((model) => isImport(model) && !theirs.has(model.file));
        const files = entries(merged).map((model) => model.file);

        expect([...files].sort()).toEqual([...theirs.keys(), ...kept.map((model) => model.file)].sort());
        for (const model of kept) {
          const home = local.categories.find((category) => category.models.includes(model))!.id;
          expect(merged.categories.find((category) => category.id === home)?.models).toContainEqual(model);
        }
      }),
    );
  });

  it("is the same merge done twice, is the catalog itself merged with itself, and changes neither input", () => {
    fc.assert(
      fc.property(pair, ([local, remote]) => {
        const before = structuredClone([local, remote]);
        const merged = mergeCatalogs(local, remote);

        expect(mergeCatalogs(local, merged)).toEqual(merged);
        expect(mergeCatalogs(local, local)).toEqual(local);
        expect([local, remote]).toEqual(before);
      }),
    );
  });
});
