// CivitAI's stand-in: /api/v1/models/<id> derived from the registered versions, in the API's shape.
import { describe, expect, it } from "vitest";
import { useUpstream } from "./harness";

const stand = useUpstream();

interface ModelAnswer {
  id: number;
  name: string;
  type: string;
  nsfw: boolean;
  tags: string[];
  modelVersions: {
    id: number;
    name: string;
    status: string;
    publishedAt: string | null;
    baseModel: string;
    trainedWords: string[];
    files: { name: string; primary: boolean; hashes: { SHA256: string } }[];
    downloadUrl: string;
  }[];
}

describe("CivitAI models", () => {
  it("lists the versions that share a model id, newest first, each with its files, and the model's type and tags", async () => {
    const model = { modelId: 4242, modelName: "Detail Tweaker", type: "LORA", tags: ["detail", "tool"] };
    const old = await stand.client.register({ id: "civitai/101", size: 1000, civitai: { ...model, versionName: "v1", publishedAt: "2024-01-01T00:00:00.000Z" } });
    await stand.client.register({ id: "civitai/102", size: 2000, name: "tweaker_v2.safetensors", civitai: { ...model, versionName: "v2", publishedAt: "2024-06-01T00:00:00.000Z", baseModel: "SD 1.5", trainedWords: ["detailed"] } });
    await stand.client.register({ id: "civitai/103", size: 3000, civitai: { ...model, versionName: "v3 draft", status: "Draft", publishedAt: null } });
    await stand.client.register({ id: "civitai/999", size: 10 });

    const res = await fetch(`${stand.up.url}/api/v1/models/4242`);
    const body = (await res.json()) as ModelAnswer;

    expect(res.status).toBe(200);
    expect(body).toMatchObject({ id: 4242, name: "Detail Tweaker", type: "LORA", nsfw: false, tags: ["detail", "tool"] });
    expect(body.modelVersions.map((v) => [v.id, v.name, v.status, v.publishedAt])).toEqual([
      [102, "v2", "Published", "2024-06-01T00:00:00.000Z"],
      [101, "v1", "Published", "2024-01-01T00:00:00.000Z"],
      [103, "v3 draft", "Draft", null],
    ]);
    expect(body.modelVersions[0]).toMatchObject({ baseModel: "SD 1.5", trainedWords: ["detailed"], downloadUrl: `${stand.up.url}/api/download/models/102` });
    expect(body.modelVersions[1]!.files).toEqual([expect.objectContaining({ primary: true, hashes: expect.objectContaining({ SHA256: old.sha256.toUpperCase() }) })]);
    expect(body.modelVersions[0]!.files[0]!.name).toBe("tweaker_v2.safetensors");
  });

  it("gives a version the same model and facts in /api/v1/model-versions/<id>", async () => {
    await stand.client.register({ id: "civitai/201", size: 10, civitai: { modelId: 77, modelName: "Some VAE", type: "VAE", versionName: "fp16" } });

    const version = (await (await fetch(`${stand.up.url}/api/v1/model-versions/201`)).json()) as Record<string, unknown>;

    expect(version).toMatchObject({ id: 201, modelId: 77, name: "fp16", status: "Published", model: { name: "Some VAE", type: "VAE", nsfw: false } });
  });

  it("answers 404 in CivitAI's words for a model no registered version belongs to", async () => {
    const res = await fetch(`${stand.up.url}/api/v1/models/31337`);

    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "No model with id 31337" });
  });

  it("refuses facts of the wrong type at registration", async () => {
    await expect(stand.client.register({ id: "civitai/5", size: 1, civitai: { modelId: -1 } })).rejects.toThrow(/civitai.modelId must be a positive integer/);
    await expect(stand.client.register({ id: "civitai/5", size: 1, civitai: { tags: "x" as unknown as string[] } })).rejects.toThrow(/civitai.tags/);
  });
});
