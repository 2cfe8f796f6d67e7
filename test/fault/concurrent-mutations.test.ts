/**
 * 200 mutating requests at once (downloads, batches, deletes, removals from the catalog, imports, pauses,
 * resumes and moves in the queue) while
 * the sidecar writes the progress of slow downloads. Every answer and the final catalog and status file
 * must be what the same requests in some serial order give: no lost update, no 5xx, nothing half done.
 */
import { access, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogDocument } from "../../lib/catalog/schema";
import { catalog, catalogFile, placeModel, type TestCatalog, type TestModel } from "../support/catalogs";
import { uploadForm } from "../support/client";
import { waitUntil } from "../support/downloads";
import { filesOf, project, stormRequests, type StormFiles, type StormRequest } from "../support/load-mutations";
import { explainableTogether, type FileHistory } from "../support/one-order";
import { explainable, type FileState, type Projection } from "../support/serial-order";
import { startOwnStack, type OwnStack } from "../support/own-stack";

const REQUESTS = 200;
const IMPORTS = 16;
const SEEDS = (process.env.STORM_SEEDS ?? "1,2,3").split(",").map(Number);
const MiB = 1024 * 1024;
// every model downloads from this one upstream file: 4 MiB at 64 KiB/s, so none finishes while a storm lasts
const SLOW = { id: "storm/slow.bin", size: 4 * MiB, mode: "slow" as const, bytesPerSecond: 64 * 1024 };

interface Round {
  readonly files: StormFiles;
  readonly dest: ReadonlyMap<string, string>;
  readonly original: TestCatalog;
  readonly requests: StormRequest[];
}

const ACTIVE_STATES = new Set(["queued", "downloading", "paused"]);

describe("200 concurrent mutating requests while downloads run", () => {
  let own: OwnStack;

  beforeAll(async () => {
    own = await startOwnStack({ MAX_CONCURRENT_DOWNLOADS: "3" });
    await own.up.register(SLOW);
  });

  afterAll(async () => {
    await own?.close();
  });

  const names = (prefix: string, kind: string, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}_${kind}_${String(i).padStart(2, "0")}.safetensors`);

  /** A round starts with the sidecar free: what an earlier one left downloading is cancelled. */
  async function cancelLeftovers(): Promise<void> {
    const leftover = Object.entries((await own.readStatus()).downloads)
      .filter(([, e]) => ACTIVE_STATES.has(e.status))
      .map(([file]) => file);
    await Promise.all(leftover.map((file) => own.call("DELETE", `/api/admin/models/${encodeURIComponent(file)}`)));
  }

  async function prepare(seed: number): Promise<Round> {
    await cancelLeftovers();
    const prefix = `s${seed}`;
    const files: StormFiles = {
      present: names(prefix, "present", 8),
      active: names(prefix, "active", 6),
      idle: names(prefix, "idle", 14),
      fresh: names(prefix, "fresh", 4 + 2 * IMPORTS),
      unknown: names(prefix, "unknown", 2),
    };
    const dest = new Map<string, string>();
    const entry = (file: string, folder: string, extra: Partial<TestModel> = {}): TestModel => {
      dest.set(file, folder);
      return { name: file, file, dest: folder, source: "url", url: own.up.fileUrl(SLOW.id), size_gb: 0.004, favourite: seed, ...extra };
    };
    for (const file of [...files.fresh, ...files.unknown]) dest.set(file, "loras");
    const original = {
      ...catalog([
        { id: "checkpoints", name: "Checkpoints", color: "blue", models: [...files.present, ...files.active].map((f) => entry(f, "checkpoints")) },
        { id: "vae", name: "VAE", models: files.idle.map((f) => entry(f, "vae/sdxl", { tags: ["vae"] })) },
      ]),
      maintainer: "studio",
    };
    // replaced whole, as the service itself does: the sidecar may be reading it
    const target = catalogFile(own.stack.studioDir, "models");
    await writeFile(`${target}.tmp`, JSON.stringify(original, null, 2));
    await rename(`${target}.tmp`, target);
    for (const file of files.present) await placeModel(own.stack.modelsDir, { file, dest: "checkpoints" });
    const queued = await own.call<{ queued: string[] }>("POST", "/api/admin/models/download-batch", { json: { filenames: files.active } });
    expect(queued.json.queued).toHaveLength(files.active.length);
    // the storm starts while the sidecar writes progress
    await waitUntil(async () => {
      const downloads = (await own.readStatus()).downloads;
      return files.active.filter((f) => downloads[f]?.status === "downloading" && downloads[f]!.bytes_downloaded > 0).length >= 3 ? true : undefined;
    }, "three downloads in progress", 30_000);
    const requests = stormRequests(seed, files, REQUESTS, IMPORTS, ["checkpoints", "vae", `${prefix}-imported`]);
    return { files, dest, original, requests };
  }

  /** The entry import `index` sends for `file`: its note says which import wrote it. */
  const importedEntry = (file: string, round: Round, index: number): TestModel => ({
    name: `${file} (import ${index})`,
    file,
    dest: round.dest.get(file) ?? "loras",
    source: "url",
    url: own.up.fileUrl(SLOW.id),
    note: `import ${index}`,
  });

  const importDocument = (request: Extract<StormRequest, { kind: "import" }>, round: Round, index: number) =>
    JSON.stringify(catalog([{ id: request.category, name: request.category, models: request.files.map((file) => importedEntry(file, round, index)) }]));

  function send(request: StormRequest, round: Round, index: number) {
    const file = "file" in request ? encodeURIComponent(request.file) : "";
    switch (request.kind) {
      case "download":
        return own.call("POST", `/api/admin/models/download/${file}`);
      case "delete":
        return own.call("DELETE", `/api/admin/models/${file}`);
      case "remove":
        return own.call("DELETE", `/api/admin/models/${file}/catalog`);
      case "batch":
        return own.call("POST", "/api/admin/models/download-batch", { json: { filenames: request.files } });
      case "import":
        return own.call("POST", "/api/admin/models/import", { body: uploadForm(importDocument(request, round, index)) });
      case "pause":
      case "resume":
        return own.call("POST", `/api/admin/models/download/${file}/${request.kind}`);
      case "move":
        return own.call("POST", `/api/admin/models/download/${file}/move`, { json: { position: 0 } });
    }
  }

  const initialState = (files: StormFiles, file: string): FileState => ({
    inCatalog: !files.fresh.includes(file) && !files.unknown.includes(file),
    onDisk: files.present.includes(file),
    active: files.active.includes(file),
    paused: false,
  });

  it.each(SEEDS)("explains every answer and the final state by one serial order (seed %i)", async (seed) => {
    const round = await prepare(seed);
    const { files, requests } = round;

    const started = Date.now();
    const answeredAt: number[] = [];
    const replies = await Promise.all(requests.map((request, i) => send(request, round, i).finally(() => (answeredAt[i] = Date.now() - started))));
    const ends = [...answeredAt].sort((a, b) => a - b);

    const problems: string[] = [];
    // every answer: no 5xx, JSON, and one the contract knows
    const byFile = new Map<string, Projection[]>();
    replies.forEach((reply, i) => {
      const request = requests[i]!;
      const what = `#${i} ${request.kind} ${filesOf(request).join(",")}`;
      if (reply.status >= 500) problems.push(`${what}: ${reply.status} ${reply.text}`);
      if (reply.json === undefined) problems.push(`${what}: not JSON: ${reply.text.slice(0, 200)}`);
      const projected = project(request, reply, i);
      if (!projected) problems.push(`${what}: unexpected answer ${reply.status} ${reply.text.slice(0, 300)}`);
      for (const [file, projection] of projected ?? []) byFile.set(file, [...(byFile.get(file) ?? []), projection]);
    });

    // the final state: catalog, status file, disk; a pause answered while the sidecar was slow to stop it settles first
    await waitUntil(async () => (Object.values((await own.readStatus()).downloads).some((e) => (e as { pause?: boolean }).pause) ? undefined : true), "pending pauses to settle", 15_000);
    const text = await readFile(catalogFile(own.stack.studioDir, "models"), "utf8");
    const document = JSON.parse(text) as TestCatalog;
    expect(CatalogDocument.safeParse(document).success).toBe(true);
    const status = await own.readStatus();
    const entries = document.categories.flatMap((category) => category.models);
    const count = (file: string) => entries.filter((entry) => entry.file === file).length;
    const onDisk = (file: string) =>
      access(path.join(own.stack.modelsDir, round.dest.get(file)!, file)).then(
        () => true,
        () => false,
      );

    const histories: FileHistory[] = [];
    for (const file of [...files.present, ...files.active, ...files.idle, ...files.fresh, ...files.unknown]) {
      if (count(file) > 1) problems.push(`${file} is in the catalog ${count(file)} times`);
      const entry = status.downloads[file] as { status: string; cancel?: boolean; error?: string } | undefined;
      if (entry?.cancel) problems.push(`${file}: a cancel is still pending in the status file`);
      if (entry?.status === "error") problems.push(`${file}: download failed: ${entry.error}`);
      if (entry && count(file) === 0) problems.push(`${file}: status entry ${entry.status} for a file the catalog no longer has`);
      const final: FileState = {
        inCatalog: count(file) > 0,
        onDisk: await onDisk(file),
        active: ACTIVE_STATES.has(entry?.status ?? ""),
        paused: entry?.status === "paused",
      };
      histories.push({ file, initial: initialState(files, file), projections: byFile.get(file) ?? [], final });
      const verdict = explainable(initialState(files, file), byFile.get(file) ?? [], final);
      if (!verdict.ok) problems.push(`${file}: ${verdict.why}`);
    }
    // and one order for all files at once, tried first in the order the answers came in
    const arrival = requests.map((_, i) => i).sort((a, b) => answeredAt[a]! - answeredAt[b]!);
    const judging = Date.now();
    const together = problems.length === 0 ? explainableTogether(histories, arrival) : { ok: true as const };
    const judgedMs = Date.now() - judging;
    if (!together.ok) problems.push(together.why);

    // the catalog document: every field of every entry as it was, or as its import wrote it
    expect(document.maintainer).toBe("studio");
    expect(document.categories.find((c) => c.id === "checkpoints")?.color).toBe("blue");
    expect(new Set(document.categories.map((c) => c.id)).size).toBe(document.categories.length);
    const originals = new Map(round.original.categories.flatMap((c) => c.models.map((m) => [m.file, m])));
    for (const category of document.categories) {
      for (const entry of category.models) {
        if (typeof entry.note !== "string") {
          if (!originals.has(entry.file)) problems.push(`${entry.file}: an entry nobody wrote`);
          else if (JSON.stringify(entry) !== JSON.stringify(originals.get(entry.file))) problems.push(`${entry.file}: entry changed`);
          continue;
        }
        // written by the import its note names: one that answered "added" for it, as that import sent it
        const writer = Number(/^import (\d+)$/.exec(entry.note)?.[1]);
        const request = requests[writer];
        const added = byFile.get(entry.file)?.some((p) => p.request === writer && p.answer === "added");
        if (request?.kind !== "import" || !added) problems.push(`${entry.file}: written by ${entry.note}, which did not add it`);
        else if (category.id !== request.category) problems.push(`${entry.file}: in ${category.id}, where ${entry.note} did not put it`);
        else if (!isDeepStrictEqual(entry, { ...importedEntry(entry.file, round, writer), tags: ["imported"] })) {
          problems.push(`${entry.file}: not what ${entry.note} sent, tagged imported: ${JSON.stringify(entry)}`);
        }
      }
    }

    console.log(`seed ${seed}: ${REQUESTS} requests, half answered in ${ends[REQUESTS / 2 - 1]} ms, all in ${ends.at(-1)} ms; one order for all files found in ${judgedMs} ms; ${problems.length} problem(s)`);
    expect(problems).toEqual([]);

  });
});
