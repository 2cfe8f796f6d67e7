/**
 * Byte ranges, for any size and any progress: how a download is cut into pieces (pieces), which control files are
 * trusted to resume from (loadControl), and the Range header each request carries (openDownload).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readdir } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadControl, saveControl, segmentLength, type Control } from "../../../../lib/downloads/engine/control";
import { pieces } from "../../../../lib/downloads/engine/schedule";
import { openDownload } from "../../../../lib/downloads/engine/http";
import type { Source } from "../../../../lib/downloads/engine/source";
import { makeTempDir, removeTempDir } from "../../helpers";

const size = fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 2 ** 44 }));
/** At most this many pieces, so that a property's run stays cheap for a file of any size. */
const count = fc.integer({ min: 1, max: 16 });
/** A piece size giving about `n` pieces of `bytes`. */
const pieceFor = (bytes: number, n: number) => Math.max(1, Math.ceil(bytes / n));

describe("pieces, for any size and piece size", () => {
  it("covers every byte once, in order, in whole pieces with only the last one shorter", () => {
    fc.assert(
      fc.property(size, count, (bytes, n) => {
        const piece = pieceFor(bytes, n);
        const segments = pieces(bytes, piece);

        expect(segments.length).toBe(Math.ceil(bytes / piece));
        segments.forEach((segment, i) => expect(segment).toEqual({ start: i * piece, end: segment.end, done: 0 }));
        segments.slice(0, -1).forEach((segment) => expect(segmentLength(segment)).toBe(piece));
        expect(segmentLength(segments.at(-1)!)).toBeGreaterThan(0);
        expect(segmentLength(segments.at(-1)!)).toBeLessThanOrEqual(piece);
        expect(segments.at(-1)!.end).toBe(bytes - 1);
      }),
    );
  });
});

describe("loadControl, for any progress", () => {
  const KEY = "url:http://127.0.0.1/model.bin";
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(() => removeTempDir(dir));

  /** Pieces, each some way along. */
  const progress = fc
    .tuple(size, count)
    .chain(([bytes, n]) => fc.tuple(fc.constant(bytes), fc.tuple(...pieces(bytes, pieceFor(bytes, n)).map((s) => fc.integer({ min: 0, max: segmentLength(s) }).map((done) => ({ ...s, done }))))));

  let runs = 0;
  const fresh = () => path.join(dir, `model-${runs++}.part.json`);

  it("resumes from what a download wrote", async () => {
    await fc.assert(
      fc.asyncProperty(progress, async ([bytes, segments]) => {
        const control: Control = { version: 1, key: KEY, size: bytes, segments };
        const file = fresh();
        await saveControl(file, control);
        expect(await loadControl(file, KEY)).toEqual(control);
      }),
      { numRuns: 40 },
    );
  });

  it("never trusts a range past the end of the file, one ending before it starts, or more done than it holds", async () => {
    const broken = fc.tuple(progress, fc.nat(), fc.constantFrom("past the end", "backwards", "overdone"), fc.integer({ min: 1, max: 1000 }));
    await fc.assert(
      fc.asyncProperty(broken, async ([[bytes, segments], which, how, by]) => {
        const i = which % segments.length;
        const s = segments[i]!;
        const bad = { past: { ...s, end: bytes - 1 + by }, backwards: { start: s.start + by, end: s.start, done: 0 }, overdone: { ...s, done: segmentLength(s) + by } };
        const changed = segments.map((segment, j) => (j === i ? bad[how === "past the end" ? "past" : how] : segment));
        const file = fresh();
        await saveControl(file, { version: 1, key: KEY, size: bytes, segments: changed });

        expect(await loadControl(file, KEY)).toBeUndefined();
        // moved aside, so the download starts over instead of trusting it next time
        expect((await readdir(dir)).some((name) => name.startsWith(`${path.basename(file)}.corrupt-`))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});

describe("openDownload's Range header, for any range", () => {
  const seen: (string | undefined)[][] = [];
  const server = http.createServer((req, res) => {
    seen.push([req.headers.range, req.headers["if-range"] as string | undefined]);
    res.writeHead(206, { "content-range": "bytes 0-0/1" }).end("x");
  });
  let source: Source;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/model.bin`);
    source = { kind: "url", key: `url:${url}`, url, authHeaders: {}, authQuery: {}, label: url.toString(), policy: { allowPrivate: true, trustedOrigins: [] } };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("asks for exactly the bytes wanted, inclusive, and validates only a ranged request", async () => {
    const wanted = fc.option(fc.tuple(fc.nat({ max: 2 ** 50 }), fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined })), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(wanted, fc.option(fc.constantFrom('"etag-1"', "Wed, 21 Oct 2015 07:28:00 GMT"), { nil: undefined }), async (range, ifRange) => {
        const asked = range && { start: range[0], ...(range[1] !== undefined && { end: range[0] + range[1] }) };
        const opened = await openDownload(source, { signal: new AbortController().signal, ...(asked && { range: asked }), ...(ifRange && { ifRange }) }, false);
        opened.res.resume();

        const [header, validator] = seen.at(-1)!;
        expect(header).toBe(asked ? `bytes=${asked.start}-${asked.end ?? ""}` : undefined);
        expect(validator).toBe(asked ? ifRange : undefined);
      }),
      { numRuns: 30 },
    );
  });
});
