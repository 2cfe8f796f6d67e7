import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import * as errors from "../../../lib/errors";
import { api } from "../../../lib/http/api";
import { FilenamePath } from "../../../lib/http/params";
import type { Studio } from "../../../lib/catalog/studio";
import { setEnv } from "../helpers";
import { API_KEY, invoke, quietErrors, studio } from "./api-fixture";

quietErrors();

const Filenames = z.object({ filenames: z.array(z.string().min(1)).min(1) });

describe("api(): authentication", () => {
  it("answers 401 'Invalid or missing API key' without a key, and never runs the function", async () => {
    const fn = vi.fn(async () => ({ ok: true }));

    const reply = await invoke(api(fn, { studio }), { key: null });

    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ detail: "Invalid or missing API key" });
    expect(fn).not.toHaveBeenCalled();
  });

  it("answers 401 for a wrong key, even when the request is otherwise invalid", async () => {
    const fn = vi.fn(async () => ({ ok: true }));

    const reply = await invoke(api(fn, { body: Filenames, studio }), { key: "wrong", method: "POST", body: "{not json" });

    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ detail: "Invalid or missing API key" });
    expect(fn).not.toHaveBeenCalled();
  });

  it.each(["X-API-Key", "x-api-key", "X-API-KEY", "x-Api-kEy"])("accepts the key in header %s", async (name) => {
    const reply = await invoke(
      api(async () => ({ models: 3 }), { studio }),
      { key: null, headers: { [name]: API_KEY } },
    );

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ models: 3 });
  });
});

describe("api(): what the function gets and returns", () => {
  it("answers 200 with the function's result as JSON, never cached", async () => {
    const reply = await invoke(api(async () => ({ version: 21, categories: [] }), { studio }));

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ version: 21, categories: [] });
    expect(reply.headers).toMatchObject({ "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  });

  it("hands the function the validated path, query and body, and the handler's Studio", async () => {
    let given: Studio | undefined;
    const fn = vi.fn(async ({ studio: received, ...input }: { studio: Studio }) => {
      given = received;
      return input;
    });
    const handler = api(fn, { path: FilenamePath, query: z.object({ force: z.enum(["0", "1"]) }), body: Filenames, studio });

    const reply = await invoke(handler, {
      method: "POST",
      pathParameters: { filename: "my model.safetensors" },
      query: { force: "1" },
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filenames: ["a.safetensors"], extra: "dropped by z.object" }),
    });

    expect(reply.json).toEqual({
      path: { filename: "my model.safetensors" },
      query: { force: "1" },
      body: { filenames: ["a.safetensors"] },
    });
    expect(given).toBe(studio());
  });

  it("parses a JSON body whatever its content type, as curl -d sends it", async () => {
    const reply = await invoke(api(async ({ body: received }) => received, { body: Filenames, studio }), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: '{"filenames": ["b.safetensors"]}',
    });

    expect(reply.json).toEqual({ filenames: ["b.safetensors"] });
  });

  it("parses a base64-encoded JSON body", async () => {
    const encoded = Buffer.from(JSON.stringify({ filenames: ["ünïcode.safetensors"] }), "utf8").toString("base64");

    const reply = await invoke(api(async ({ body: received }) => received, { body: Filenames, studio }), {
      method: "POST",
      body: encoded,
      isBase64Encoded: true,
    });

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ filenames: ["ünïcode.safetensors"] });
  });

  it("passes the parsed body through untouched when the endpoint has no body schema", async () => {
    const reply = await invoke(api(async ({ body: received }) => ({ received }), { studio }), { method: "POST", body: '{"anything": [1, 2]}' });

    expect(reply.json).toEqual({ received: { anything: [1, 2] } });
  });
});

describe("api(): request errors", () => {
  it("answers 400 'Invalid JSON: ...' for a body that is not JSON", async () => {
    const fn = vi.fn(async () => ({}));

    const reply = await invoke(api(fn, { body: Filenames, studio }), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"filenames": [',
    });

    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ detail: expect.stringMatching(/^Invalid JSON: \S/) });
    expect(fn).not.toHaveBeenCalled();
  });

  it("answers 422 with FastAPI-style issues when the body does not match the schema", async () => {
    const fn = vi.fn(async () => ({}));

    const reply = await invoke(api(fn, { body: Filenames, studio }), { method: "POST", body: '{"files": ["a.safetensors"]}' });

    expect(reply.status).toBe(422);
    expect(reply.json).toEqual({
      detail: [{ loc: ["body", "filenames"], msg: expect.any(String), type: "invalid_type" }],
    });
    expect(fn).not.toHaveBeenCalled();
  });

  it("lists problems in the path and the body in one 422", async () => {
    const reply = await invoke(api(async () => ({}), { path: FilenamePath, body: Filenames, studio }), {
      method: "POST",
      pathParameters: { filename: "" },
      body: '{"filenames": ["ok", 7]}',
    });

    expect(reply.status).toBe(422);
    expect(reply.json).toEqual({
      detail: [
        { loc: ["path", "filename"], msg: expect.any(String), type: "too_small" },
        { loc: ["body", "filenames", 1], msg: expect.any(String), type: "invalid_type" },
      ],
    });
  });

  it("answers 422 located at the body when a body is required and none was sent", async () => {
    const reply = await invoke(api(async () => ({}), { body: Filenames, studio }), { method: "POST", body: "  " });

    expect(reply.status).toBe(422);
    expect(reply.json).toEqual({ detail: [{ loc: ["body"], msg: expect.any(String), type: "invalid_type" }] });
  });

  it("answers 413 for a body above 10 MB under npm start (serverless-offline), and takes one of 5 MB", async () => {
    const big = JSON.stringify({ filenames: ["x".repeat(10 * 1024 * 1024)] });
    const five = JSON.stringify({ filenames: ["x".repeat(5 * 1024 * 1024)] });
    setEnv({ IS_OFFLINE: "true" });
    try {
      const handler = api(async ({ body }) => ({ length: body.filenames[0]!.length }), { body: Filenames, studio });

      const refused = await invoke(handler, { method: "POST", body: big });
      const taken = await invoke(handler, { method: "POST", body: five });

      expect(refused.status).toBe(413);
      expect(refused.json).toEqual({ detail: "Request body is larger than 10 MB" });
      expect(taken.status).toBe(200);
    } finally {
      setEnv({ IS_OFFLINE: undefined });
    }
  });

  it("answers 413 for a body above 4 MB in AWS Lambda, base64-encoded or not", async () => {
    const over = JSON.stringify({ filenames: ["x".repeat(4 * 1024 * 1024)] });
    const handler = api(async () => ({}), { body: Filenames, studio });

    const text = await invoke(handler, { method: "POST", body: over });
    const base64 = await invoke(handler, { method: "POST", body: Buffer.from(over).toString("base64"), isBase64Encoded: true });

    expect(text.status).toBe(413);
    expect(text.json).toEqual({ detail: "Request body is larger than 4 MB" });
    expect(base64.json).toEqual({ detail: "Request body is larger than 4 MB" });
  });
});

describe("api(): errors from the function", () => {
  it("answers 500 'Internal error' for a plain Error and keeps its message, secrets included, out of the response", async () => {
    const secret = "civitai-token-s3cr3t";
    const handler = api(async () => {
      throw new Error(`GET https://civitai.com/api/download/models/1?token=${secret} failed: ECONNRESET`);
    }, { studio });

    const reply = await invoke(handler);

    expect(reply.status).toBe(500);
    expect(reply.json).toEqual({ detail: "Internal error" });
    expect(reply.raw).not.toContain(secret);
    expect(reply.raw).not.toContain("civitai.com");
  });

  it("answers 500 'Internal error' for a foreign error that carries a 4xx statusCode but is not marked safe", async () => {
    const handler = api(async () => {
      throw Object.assign(new Error("upstream said 403 for token=hf_s3cr3t"), { statusCode: 403 });
    }, { studio });

    const reply = await invoke(handler);

    expect(reply.status).toBe(500);
    expect(reply.json).toEqual({ detail: "Internal error" });
    expect(reply.raw).not.toContain("hf_s3cr3t");
  });

  it("answers the 404 of a model the catalog does not know with its documented message", async () => {
    const reply = await invoke(
      api(async () => {
        throw errors.modelNotFound("x.safetensors");
      }, { studio }),
    );

    expect(reply.status).toBe(404);
    expect(reply.json).toEqual({ detail: "Model 'x.safetensors' not found in catalog" });
  });
});
