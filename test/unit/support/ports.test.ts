import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ephemeralRange, freeLoopbackPorts } from "../../support/ports";

describe("loopback ports for a test stack's $PORT", () => {
  it("come from below the ephemeral range, where no outgoing connection or listen(0) takes one meanwhile", async () => {
    const ports = await freeLoopbackPorts(2, [32768, 60999]);

    expect(new Set(ports).size).toBe(2);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32768);
    }
  });

  it("are free: each can be listened on", async () => {
    for (const port of await freeLoopbackPorts(2)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("are whatever the OS gives when the range leaves no room below it", async () => {
    const ports = await freeLoopbackPorts(2, [1024, 65535]);

    expect(new Set(ports).size).toBe(2);
    expect(ports.every((port) => port > 0)).toBe(true);
  });

  it("read Linux's range, and none where there is no such file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ports-"));
    await writeFile(path.join(dir, "range"), "32768\t60999\n");

    expect(await ephemeralRange(path.join(dir, "range"))).toEqual([32768, 60999]);
    expect(await ephemeralRange(path.join(dir, "missing"))).toBeUndefined();
  });
});
