// CivitAI's stand-in: the download's 307 to signed storage and its expiry, the version API, tokens, early access.
import { describe, expect, it } from "vitest";
import { sha256, useUpstream } from "./harness";

const stand = useUpstream();

describe("CivitAI", () => {
  it("download answers 307 to a signed URL that serves the bytes until it expires", async () => {
    const reg = await stand.client.register({ id: "civitai/12345", size: 200_000, signedTtlMs: 300, name: "thing.safetensors" });
    const res = await fetch(stand.client.civitaiUrl(12345), { redirect: "manual" });
    expect(res.status).toBe(307);
    const location = res.headers.get("location") ?? "";
    expect(location).toMatch(new RegExp(`^${stand.up.altUrl}/signed/civitai/12345\\?`));
    const q = new URL(location).searchParams;
    expect(q.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(q.get("exp"))).toBeGreaterThan(Date.now());

    const signed = await fetch(location);
    expect(signed.status).toBe(200);
    expect(signed.headers.get("content-disposition")).toBe('attachment; filename="thing.safetensors"');
    expect(sha256(Buffer.from(await signed.arrayBuffer()))).toBe(reg.sha256);

    // S3 refuses a second auth mechanism next to the presigned query
    const withAuth = await fetch(location, { headers: { Authorization: "Bearer x" } });
    expect(withAuth.status).toBe(400);
    await withAuth.text();

    await new Promise((r) => setTimeout(r, 350));
    const expired = await fetch(location);
    expect(expired.status).toBe(403);
    expect(expired.headers.get("content-type")).toBe("application/xml");
    expect(await expired.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    );

    const version = (await (await fetch(`${stand.up.url}/api/v1/model-versions/12345`)).json()) as {
      id: number;
      files: { name: string; primary: boolean; sizeKB: number; hashes: Record<string, string>; downloadUrl: string }[];
    };
    expect(version.id).toBe(12345);
    const file = version.files[0];
    expect(file).toMatchObject({ name: "thing.safetensors", primary: true, sizeKB: 200_000 / 1024 });
    expect(file?.hashes.SHA256).toBe(reg.sha256.toUpperCase());
    expect(file?.hashes.AutoV2).toBe(reg.sha256.toUpperCase().slice(0, 10));
    expect(file?.downloadUrl).toBe(`${stand.up.url}/api/download/models/12345`);
  });

  it("needs-token wants ?token=, early-access is refused regardless", async () => {
    await stand.client.register({ id: "civitai/1", size: 10, mode: "needs-token" });
    await stand.client.register({ id: "civitai/2", size: 10, mode: "early-access" });
    await stand.client.setTokens({ civitai: "civ-tok" });

    const noToken = await fetch(stand.client.civitaiUrl(1), { redirect: "manual" });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({
      error: "Unauthorized",
      message: "The creator of this asset requires you to be logged in to download it",
    });
    expect((await fetch(`${stand.client.civitaiUrl(1)}?token=nope`, { redirect: "manual" })).status).toBe(401);
    expect((await fetch(`${stand.client.civitaiUrl(1)}?token=civ-tok`, { redirect: "manual" })).status).toBe(307);

    const early = await fetch(`${stand.client.civitaiUrl(2)}?token=civ-tok`, { redirect: "manual" });
    expect(early.status).toBe(403);
    expect(((await early.json()) as { message: string }).message).toMatch(/^This resource is in early access/);
  });
});
