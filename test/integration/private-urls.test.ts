import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestModel } from "../support/catalogs";
import { call } from "../support/client";
import { modelFile, queue, readStatusFile, settled, stackLog, useModels } from "../support/downloads";
import { sha256File } from "../support/fault-kit";
import { INTERNAL_SECRET, startInternalService, type InternalService } from "../support/internal-service";

/**
 * The shared stack runs with ALLOW_PRIVATE_URLS=true (testStackEnv): a catalog `url` on another loopback port
 * downloads, as from a local mirror. What such a server answers with an error still never shows: the status
 * and the host do. (With the switch off, the same URL is refused: test/fault/ssrf.test.ts.)
 */
describe("private addresses with ALLOW_PRIVATE_URLS=true", () => {
  let internal: InternalService;
  let mirror: TestModel;
  let failing: TestModel;

  beforeAll(async () => {
    internal = await startInternalService();
    mirror = { name: "Mirrored", file: "mirrored.safetensors", dest: "checkpoints", source: "url", url: `${internal.origin}/model.safetensors` };
    failing = { name: "Failing", file: "failing_mirror.safetensors", dest: "checkpoints", source: "url", url: `${internal.origin}/admin` };
    await useModels([mirror, failing]);
  });

  afterAll(async () => {
    await internal?.close();
  });

  it("downloads from a url on another loopback port", async () => {
    await queue(mirror.file);
    const entry = await settled(mirror.file);

    expect(entry.status).toBe("done");
    expect(await sha256File(modelFile(mirror))).toBe(internal.model.sha256);
    expect(internal.heard).toContain("/model.safetensors");
  });

  it("says the status and the host of its 500, and the secret in its body shows nowhere", async () => {
    await queue(failing.file);
    const entry = await settled(failing.file);
    const shown = {
      "the status stream": (await call("GET", "/api/admin/models/status?max_seconds=1")).text,
      "the listing": (await call("GET", "/api/admin/models")).text,
      "status.json": JSON.stringify(await readStatusFile()),
      "the stack's log": await stackLog(),
    };

    expect(entry).toMatchObject({
      status: "error",
      error: `Gave up after 4 tries: HTTP 500 from ${internal.origin}/admin: the server failed; try again later`,
    });
    expect(internal.heard.filter((p) => p === "/admin")).toHaveLength(4);
    for (const [where, text] of Object.entries(shown)) expect(text.includes(INTERNAL_SECRET), where).toBe(false);
    expect(await readFile(modelFile(failing)).catch(() => "absent")).toBe("absent");
  });
});
