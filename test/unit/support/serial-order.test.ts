/** The storm's judge, file by file: it must refuse what no serial order gives, or the fault suite proves nothing. */
import { describe, expect, it } from "vitest";
import { explainable, type FileState, type Projection } from "../../support/serial-order";

const idle: FileState = { inCatalog: true, onDisk: false, active: false };
const fresh: FileState = { inCatalog: false, onDisk: false, active: false };
const downloading: FileState = { inCatalog: true, onDisk: false, active: true };
const gone: FileState = { inCatalog: false, onDisk: false, active: false };
const p = (request: number, kind: Projection["kind"], answer: string): Projection => ({ request, kind, answer });

describe("explainable", () => {
  it("accepts a removal answered first and a download refused after it", () => {
    expect(explainable(idle, [p(1, "download", "404"), p(0, "remove", "200")], gone)).toEqual({ ok: true });
  });

  it("refuses a removal and a queueing that both succeeded on one file", () => {
    const verdict = explainable(idle, [p(0, "remove", "200"), p(1, "download", "queued")], { ...gone, active: true });

    expect(verdict.ok).toBe(false);
  });

  it("refuses two cancels of one download that both answered deleted", () => {
    expect(explainable(downloading, [p(0, "delete", "200"), p(1, "delete", "200")], idle).ok).toBe(false);
    expect(explainable(downloading, [p(0, "delete", "200"), p(1, "delete", "404-disk")], idle)).toEqual({ ok: true });
  });

  it("refuses two imports that both added one file (a lost update), unless a removal came between", () => {
    const both = [p(0, "import", "added"), p(1, "import", "added")];

    expect(explainable(fresh, both, idle).ok).toBe(false);
    expect(explainable(fresh, [...both, p(2, "remove", "200")], idle)).toEqual({ ok: true });
  });

  it("refuses a final state that the answers do not lead to", () => {
    const verdict = explainable(fresh, [p(0, "import", "added")], gone);

    expect(verdict).toMatchObject({ ok: false, why: expect.stringMatching(/end in .*but found/) });
  });

  it("lets a failed request have taken effect or not", () => {
    expect(explainable(idle, [p(0, "remove", "failed")], gone)).toEqual({ ok: true });
    expect(explainable(idle, [p(0, "remove", "failed")], idle)).toEqual({ ok: true });
  });
});
