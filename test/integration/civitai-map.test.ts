import { beforeEach, describe, expect, inject, it } from "vitest";
import { catalog, civitaiModel, emptyModelsDir, hfModel, placeModel, writeCatalog } from "../support/catalogs";
import { call } from "../support/client";

const { studioDir, modelsDir } = inject("stack");

const juggernaut = civitaiModel("juggernautXL_v9.safetensors", "checkpoints", 123456, 789, { base_model: "SDXL 1.0" });
const juggernautOld = civitaiModel("juggernautXL_v8.safetensors", "checkpoints", 123457, 789);
const noModelId = civitaiModel("orphan.safetensors", "checkpoints", 555, 1, { civitai_model_id: undefined });
const noBase = civitaiModel("nobase.safetensors", "checkpoints", 556, 2, { base_model: undefined });
const hfOnly = hfModel("sd_xl_base_1.0.safetensors", "checkpoints");
const detailLora = civitaiModel("add_detail.safetensors", "loras/sd15", 62833, 58390);
const numericIds = civitaiModel("numeric.safetensors", "loras", 1, 1, { civitai_version_id: 135867, civitai_model_id: 122359 });

describe("GET /api/admin/models/civitai-map", () => {
  beforeEach(async () => {
    await emptyModelsDir(modelsDir);
    await writeCatalog(studioDir, "models", catalog([
      { id: "sdxl", name: "SDXL", models: [juggernaut, juggernautOld, hfOnly, noModelId, noBase] },
    ]));
    await writeCatalog(studioDir, "loras", catalog([{ id: "sd15-loras", name: "SD 1.5 LoRAs", models: [detailLora, numericIds] }]));
  });

  it("indexes both catalogs by version and by model, with presence on disk", async () => {
    await placeModel(modelsDir, juggernaut);
    await placeModel(modelsDir, detailLora);

    const { status, json } = await call<{ by_version: Record<string, unknown>; by_model: Record<string, unknown> }>(
      "GET",
      "/api/admin/models/civitai-map",
    );

    expect(status).toBe(200);
    expect(json.by_version["123456"]).toEqual({
      file: "juggernautXL_v9.safetensors",
      dest: "checkpoints",
      name: juggernaut.name,
      base_model: "SDXL 1.0",
      status: "present",
      civitai_model_id: 789,
      catalog: "models",
    });
    expect(json.by_version["123457"]).toMatchObject({ status: "missing", catalog: "models" });
    expect(json.by_version["62833"]).toMatchObject({ file: "add_detail.safetensors", dest: "loras/sd15", status: "present", catalog: "loras" });
    expect(json.by_version["135867"]).toMatchObject({ civitai_model_id: 122359, catalog: "loras" });
    expect(json.by_model).toEqual({ "789": [123456, 123457], "58390": [62833], "122359": [135867], "2": [556] });
  });

  it("leaves out entries without a version id and keeps those without a model id out of by_model", async () => {
    const { json } = await call<{ by_version: Record<string, { civitai_model_id: unknown; base_model: unknown }> }>(
      "GET",
      "/api/admin/models/civitai-map",
    );

    expect(Object.keys(json.by_version).sort()).toEqual(["123456", "123457", "135867", "555", "556", "62833"]);
    expect(json.by_version["555"]!.civitai_model_id).toBeNull();
    expect(json.by_version["556"]!.base_model).toBeNull();
  });

  it("answers a browser extension's preflight and its request with CORS headers", async () => {
    const origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";

    const preflight = await call("OPTIONS", "/api/admin/models/civitai-map", {
      key: null,
      headers: { Origin: origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key" },
    });
    const get = await call("GET", "/api/admin/models/civitai-map", { headers: { Origin: origin } });
    const denied = await call("GET", "/api/admin/models/civitai-map", { key: "wrong", headers: { Origin: origin } });

    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-api-key");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(get.status).toBe(200);
    expect(get.headers.get("access-control-allow-origin")).toBe(origin);
    // the extension can read why it was refused
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(origin);
  });

  it("does not let an ordinary web page read it", async () => {
    const origin = "https://civitai.com.evil.example";

    const preflight = await call("OPTIONS", "/api/admin/models/civitai-map", {
      key: null,
      headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
    });
    const get = await call("GET", "/api/admin/models/civitai-map", { headers: { Origin: origin } });

    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it.each([
    ["missing", null],
    ["wrong", "nope"],
  ])("refuses a %s API key with 401", async (_, key) => {
    const { status, json } = await call("GET", "/api/admin/models/civitai-map", { key });

    expect(status).toBe(401);
    expect(json).toEqual({ detail: "Invalid or missing API key" });
  });
});
