// Hugging Face's stand-in: resolve's 302 to the CDN, the model info, gated repositories.
import { describe, expect, it } from "vitest";
import { sha256, useUpstream } from "./harness";

const stand = useUpstream();

describe("Hugging Face", () => {
  it("resolve answers 302 to the CDN on the other host name with the linked size and etag", async () => {
    const reg = await stand.client.register({ id: "acme/sdxl/unet/model.safetensors", size: 300_000 });
    const resolveUrl = stand.client.hfUrl(reg.id);
    expect(resolveUrl).toBe(`${stand.up.url}/acme/sdxl/resolve/main/unet/model.safetensors`);

    for (const method of ["GET", "HEAD"]) {
      const res = await fetch(resolveUrl, { method, redirect: "manual" });
      expect(res.status).toBe(302);
      expect(res.headers.get("x-linked-size")).toBe("300000");
      expect(res.headers.get("x-linked-etag")).toBe(`"${reg.sha256}"`);
      expect(res.headers.get("etag")).toBe(`"${reg.sha256}"`);
      expect(res.headers.get("location")).toMatch(new RegExp(`^${stand.up.altUrl}/cdn/acme/sdxl/unet/model\\.safetensors\\?sig=`));
    }

    const followed = await fetch(resolveUrl);
    expect(followed.status).toBe(200);
    expect(sha256(Buffer.from(await followed.arrayBuffer()))).toBe(reg.sha256);

    const info = (await (await fetch(`${stand.up.url}/api/models/acme/sdxl`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ id: "acme/sdxl", modelId: "acme/sdxl", author: "acme", private: false, gated: false });
    expect(info.siblings).toEqual([{ rfilename: "unet/model.safetensors" }]);
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it("gated files need the registered bearer token", async () => {
    const { id, sha256: sum } = await stand.client.register({ id: "meta/gated/w.bin", size: 1000, mode: "gated" });
    const denied = await fetch(stand.client.hfUrl(id), { redirect: "manual" });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: string }).error).toBe(
      "Access to model meta/gated is restricted. You must have access to it and be authenticated to access it. Please log in.",
    );

    await stand.client.setTokens({ hf: "hf_good" });
    const wrong = await fetch(stand.client.hfUrl(id), { redirect: "manual", headers: { Authorization: "Bearer hf_bad" } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(stand.client.hfUrl(id), { redirect: "manual", headers: { Authorization: "Bearer hf_good" } });
    expect(ok.status).toBe(302);
    const cdn = await fetch(ok.headers.get("location") ?? "");
    expect(sha256(Buffer.from(await cdn.arrayBuffer()))).toBe(sum);

    const info = (await (await fetch(`${stand.up.url}/api/models/meta/gated`)).json()) as Record<string, unknown>;
    expect(info.gated).toBe("auto");
  });
});
