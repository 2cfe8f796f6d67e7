// CivitAI's by-hash look-ups in the stand-in: the batch of up to 100 SHA256s, the single one, and their refusals.
import { describe, expect, it } from "vitest";
import { useUpstream } from "./harness";

const stand = useUpstream();
const BY_HASH = "/api/v1/model-versions/by-hash";

const post = (body: unknown) =>
  fetch(`${stand.up.url}${BY_HASH}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("CivitAI by hash", () => {
  it("answers a batch with the versions that have a file of one of the hashes, in any case, as the version API describes them", async () => {
    const a = await stand.client.register({ id: "civitai/11", size: 1000 });
    await stand.client.register({ id: "civitai/12", size: 2000 });
    const hf = await stand.client.register({ id: "org/repo/x.safetensors", size: 3000 });

    const res = await post([a.sha256.toUpperCase(), hf.sha256, "0".repeat(64)]);
    const versions = (await res.json()) as { id: number; modelId: number; files: { hashes: { SHA256: string } }[] }[];
    const byId = (await (await fetch(`${stand.up.url}/api/v1/model-versions/11`)).json()) as unknown;

    expect(res.status).toBe(200);
    expect(versions).toHaveLength(1);
    expect(versions[0]).toEqual(byId);
    expect(versions[0]!.files[0]!.hashes.SHA256).toBe(a.sha256.toUpperCase());
  });

  it("refuses what is not an array of at most 100 SHA256s, as CivitAI does", async () => {
    for (const body of [{ hashes: [] }, ["abc"], Array.from({ length: 101 }, () => "a".repeat(64))]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^Request must include an array of SHA256 Hashes\./);
    }
  });

  it("answers one hash with its version, or 404", async () => {
    const a = await stand.client.register({ id: "civitai/21", size: 1000 });

    const found = await fetch(`${stand.up.url}${BY_HASH}/${a.sha256}`);
    const missing = await fetch(`${stand.up.url}${BY_HASH}/${"f".repeat(64)}`);

    expect(found.status).toBe(200);
    expect(((await found.json()) as { id: number }).id).toBe(21);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "Model not found" });
  });

  it("lets a test refuse the batch route with a canned answer", async () => {
    await stand.client.can({ method: "POST", path: BY_HASH, status: 405, body: { error: "Method Not Allowed" } });

    expect((await post(["a".repeat(64)])).status).toBe(405);
  });
});
