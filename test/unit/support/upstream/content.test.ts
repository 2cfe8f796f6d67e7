// The stand-in's content: deterministic, addressable by offset, and streamed without growing memory.
import { createHash } from "node:crypto";
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { fileBytes, fileSha256 } from "../../../support/upstream";
import { MiB, sha256, useUpstream } from "./harness";

const stand = useUpstream();

describe("deterministic content", () => {
  it("is addressable by offset, seed-dependent, and hashes like fileSha256", () => {
    const whole = fileBytes("a/b.bin", 7, 0, 200_000);
    expect(whole.length).toBe(200_000);
    expect(fileBytes("a/b.bin", 7, 65_530, 131_080)).toEqual(whole.subarray(65_530, 131_080));
    expect(fileBytes("a/b.bin", 8, 0, 1000)).not.toEqual(whole.subarray(0, 1000));
    expect(fileBytes("a/c.bin", 7, 0, 1000)).not.toEqual(whole.subarray(0, 1000));
    expect(fileSha256("a/b.bin", 200_000, 7)).toBe(sha256(whole));
  });
});

describe("large files", () => {
  it("streams 512 MiB with backpressure without growing the process's memory", async () => {
    const size = 512 * MiB;
    const before = process.memoryUsage().rss;
    const reg = await stand.client.register({ id: "big/model.safetensors", size, seed: 3 });
    let peak = process.memoryUsage().rss;
    const hash = createHash("sha256");
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      request(stand.client.fileUrl(reg.id), { agent: false }, (res) => {
        res.on("data", (c: Buffer) => {
          hash.update(c);
          received += c.length;
          if ((received & (32 * MiB - 1)) < c.length) peak = Math.max(peak, process.memoryUsage().rss);
        });
        res.on("end", resolve);
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(received).toBe(size);
    expect(hash.digest("hex")).toBe(reg.sha256);
    expect(peak - before).toBeLessThan(200 * MiB);
  }, 20_000);
});
