import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/client";
import { civitaiEntry, exists, hfEntry, modelFile, queue, settled, stackInfo, stackLog, upstream, urlEntry, useModels, type StatusEntry } from "../support/downloads";
import { CIVITAI_API_KEY, HF_TOKEN } from "../support/global-stack";
import { alteredSeed, fileSha256, type FileSpec } from "../support/upstream";
import type { TestModel } from "../support/catalogs";

const MiB = 1024 * 1024;
const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

interface Case {
  spec: FileSpec;
  model: TestModel;
}

const plainCase = (name: string, spec: Omit<FileSpec, "id">): Case => ({
  spec: { id: `faults/${name}`, ...spec },
  model: urlEntry(`faults/${name}`, name),
});

const cases = {
  noRange: plainCase("no-range.bin", { size: 20 * MiB + 1, mode: "no-range" }),
  dropHalf: plainCase("drop-half.bin", { size: 40 * MiB + 7, mode: "drop-half", dropCount: 3 }),
  stall: plainCase("stall.bin", { size: 6 * MiB, mode: "stall" }),
  rate429: plainCase("rate-429.bin", { size: 1 * MiB, mode: "rate-429" }),
  flaky: plainCase("flaky-500.bin", { size: 1 * MiB, mode: "flaky-500" }),
  missing: plainCase("missing.bin", { size: 1 * MiB, mode: "status-404" }),
  html: plainCase("login.bin", { size: 1 * MiB, mode: "html" }),
  changed: plainCase("changed.bin", { size: 24 * MiB, mode: "change-etag-after-first" }),
  gated: {
    spec: { id: "black-forest-labs/FLUX.1-dev/flux1-dev.safetensors", size: 1 * MiB, mode: "gated" },
    model: hfEntry("black-forest-labs/FLUX.1-dev/flux1-dev.safetensors", "flux1-dev.safetensors", "diffusion_models"),
  },
  wrongBytes: {
    spec: { id: "org/corrupt/model.safetensors", size: 3 * MiB, mode: "wrong-bytes" },
    model: hfEntry("org/corrupt/model.safetensors", "corrupt.safetensors", "checkpoints"),
  },
  wrongKey: { spec: { id: "civitai/4201", size: 1 * MiB, mode: "needs-token" }, model: civitaiEntry(4201, "rv51.safetensors") },
  earlyAccess: { spec: { id: "civitai/999001", size: 1 * MiB, mode: "early-access" }, model: civitaiEntry(999001, "early.safetensors") },
} satisfies Record<string, Case>;

const replies: string[] = [];

describe("downloads under faults", () => {
  const registered: Record<string, { sha256: string; size: number }> = {};

  beforeAll(async () => {
    const up = upstream();
    // the service's keys are not the ones upstream accepts here: every auth check fails
    await up.setTokens({ hf: "hf_someone_else", civitai: "someone-else" });
    for (const [name, { spec }] of Object.entries(cases)) registered[name] = await up.register(spec);
    await useModels(Object.values(cases).map(({ model }) => model));
  });

  afterAll(async () => {
    await upstream().setTokens({ hf: HF_TOKEN, civitai: CIVITAI_API_KEY });
  });

  /**
   * How the download of case `name` ended: run by the first test that asks, and kept for a later test
   * that looks at what it left (run then, if the first one did not run or did not get that far).
   */
  const ended = new Map<string, StatusEntry>();
  const run = async (name: keyof typeof cases, timeoutMs?: number) => {
    const known = ended.get(name);
    if (known) return known;
    const reply = await queue(cases[name].model.file);
    replies.push(reply.text);
    const entry = await settled(cases[name].model.file, timeoutMs);
    ended.set(name, entry);
    return entry;
  };

  it("downloads from a server that ignores Range in one stream", async () => {
    const entry = await run("noRange");

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(cases.noRange.model))).toBe(registered.noRange!.sha256);
  });

  it("resumes dropped connections with Range instead of starting over", async () => {
    const entry = await run("dropHalf");
    const stats = await upstream().stats(cases.dropHalf.spec.id);

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(cases.dropHalf.model))).toBe(registered.dropHalf!.sha256);
    // three connections were cut halfway; what was received before is not fetched again
    expect(stats.bytesSent).toBeLessThan(cases.dropHalf.spec.size * 1.2);
    expect(stats.gets).toBeGreaterThan(3);
  });

  it("gives up on a stalled connection and finishes on a new one", async () => {
    const entry = await run("stall");

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(cases.stall.model))).toBe(registered.stall!.sha256);
    expect(await stackLog()).toMatch(/stall\.bin: No data for 2 s; retry 1/);
  });

  it("waits as long as a 429's Retry-After asks, then finishes", async () => {
    const entry = await run("rate429");
    const gets = (await upstream().log()).filter((l) => l.fileId === cases.rate429.spec.id && l.method === "GET");

    expect(entry.status).toBe("done");
    expect(gets[0]!.status).toBe(429);
    expect(gets[1]!.time - gets[0]!.time).toBeGreaterThanOrEqual(950);
  });

  it("retries server errors", async () => {
    const entry = await run("flaky");

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(cases.flaky.model))).toBe(registered.flaky!.sha256);
  });

  it("starts over, never mixing two versions, when the file changes upstream mid-download", async () => {
    const entry = await run("changed");

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(cases.changed.model))).toBe(fileSha256(cases.changed.spec.id, cases.changed.spec.size, alteredSeed(0)));
  });

  it.each([
    ["missing", /Not found upstream \(HTTP 404\)/],
    ["html", /HTML page instead of the model/],
    ["gated", /gated or private: set HF_TOKEN and accept the licence at http:\/\/127\.0\.0\.1:\d+\/black-forest-labs\/FLUX\.1-dev/],
    ["wrongKey", /CivitAI refused CIVITAI_API_KEY \(HTTP 401\)/],
    ["earlyAccess", /early access/],
    ["wrongBytes", /Checksum mismatch: expected SHA256 [0-9a-f]{64}, got [0-9a-f]{64}/],
  ] as const)("fails %s with an error a person can act on, and leaves nothing under the final name", async (name, message) => {
    const entry = await run(name);
    const target = modelFile(cases[name].model);
    const listed = await call<{ categories: { models: { file: string; status: string; error?: string }[] }[] }>(
      "GET",
      "/api/admin/models",
    );
    replies.push(listed.text);

    expect(entry.status).toBe("error");
    expect(entry.error).toMatch(message);
    expect(await exists(target)).toBe(false);
    const model = listed.json.categories[0]!.models.find((m) => m.file === cases[name].model.file);
    expect(model).toMatchObject({ status: "error", error: entry.error });
  });

  it("refuses before the first byte when the disk lacks room, saying how much", async () => {
    // a server that announces a 1 PiB model: no disk here holds it
    const server = createServer((_, res) => {
      res.writeHead(206, { "Content-Range": "bytes 0-1125899906842623/1125899906842624", "Content-Length": "1125899906842624" });
      res.write(Buffer.alloc(1024));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const huge = { ...urlEntry("unused", "huge.safetensors"), url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/huge` };
    await useModels([...Object.values(cases).map(({ model }) => model), huge]);
    try {
      await queue(huge.file);
      const entry = await settled(huge.file);

      expect(entry.error).toMatch(/^Not enough disk space: need 1048576\.00 GiB, have \d+\.\d+ [MG]iB$/);
      expect(await exists(`${modelFile(huge)}.part`)).toBe(false);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("ignores a control file whose partial data is gone, instead of trusting its claim", async () => {
    const spec = { id: "faults/orphan-control.bin", size: 40 * MiB };
    const registeredOrphan = await upstream().register(spec);
    const model = urlEntry(spec.id, "orphan-control.bin");
    await useModels([...Object.values(cases).map(({ model: m }) => m), model]);
    const url = new URL(model.url as string);
    const half = (s: { start: number; end: number }) => ({ ...s, done: Math.floor((s.end - s.start + 1) / 2) });
    const control = {
      version: 1,
      key: `url:${url.origin}${url.pathname}`,
      size: spec.size,
      segments: [half({ start: 0, end: 20 * MiB - 1 }), half({ start: 20 * MiB, end: 40 * MiB - 1 })],
    };
    await mkdir(path.dirname(modelFile(model)), { recursive: true });
    await writeFile(`${modelFile(model)}.part.json`, JSON.stringify(control));

    replies.push((await queue(model.file)).text);
    const entry = await settled(model.file);

    expect(entry.status).toBe("done");
    expect(await sha256(modelFile(model))).toBe(registeredOrphan.sha256);
  });

  it("discards a download whose checksum does not match, partial included", async () => {
    expect((await run("wrongBytes")).error).toMatch(/Checksum mismatch/);
    const dir = path.dirname(modelFile(cases.wrongBytes.model));

    expect((await readdir(dir)).filter((f) => f.startsWith("corrupt"))).toEqual([]);
  });

  it("can queue a failed model again", async () => {
    expect((await run("missing")).status).toBe("error");
    const again = await queue(cases.missing.model.file);

    expect(again.json).toEqual({ status: "queued", file: cases.missing.model.file });
    expect((await settled(cases.missing.model.file)).status).toBe("error");
  });

  it("never shows a credential in a response, the status file or the log", async () => {
    // the downloads that send them, refused upstream: their answers, listings and log lines are among these
    for (const name of ["gated", "wrongKey", "earlyAccess"] as const) await run(name);
    const status = await readFile(path.join(stackInfo().studioDir, "state", "status.json"), "utf8");
    const everything = [...replies, status, await stackLog()].join("\n");

    for (const secret of [HF_TOKEN, CIVITAI_API_KEY]) expect(everything).not.toContain(secret);
  });
});
