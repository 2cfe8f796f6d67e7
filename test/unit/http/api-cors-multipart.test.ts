import { describe, expect, it, vi } from "vitest";
import { api } from "../../../lib/http/api";
import * as body from "../../../lib/http/body";
import { invoke, quietErrors, studio } from "./api-fixture";

// api()'s answers to the browser and to uploads: its CORS headers and its multipart bodies

quietErrors();

describe("api(): CORS", () => {
  it("puts CORS headers on an error response for an allowed Origin", async () => {
    const reply = await invoke(
      api(async () => ({}), { studio }),
      { key: null, headers: { Origin: "chrome-extension://abcdefghijklmnop" } },
    );

    expect(reply.status).toBe(401);
    expect(reply.headers).toMatchObject({
      "Access-Control-Allow-Origin": "chrome-extension://abcdefghijklmnop",
      "Access-Control-Allow-Headers": "Content-Type,X-API-Key",
      "Content-Type": "application/json; charset=utf-8",
    });
  });

  it("puts CORS headers on a 500 as well", async () => {
    const reply = await invoke(
      api(async () => {
        throw new Error("boom");
      }, { studio }),
      { headers: { origin: "chrome-extension://abc" } },
    );

    expect(reply.json).toEqual({ detail: "Internal error" });
    expect(reply.headers["Access-Control-Allow-Origin"]).toBe("chrome-extension://abc");
  });

  it("leaves CORS headers off for a disallowed Origin", async () => {
    const reply = await invoke(
      api(async () => ({}), { studio }),
      { key: null, headers: { Origin: "https://chrome-extension.evil.com" } },
    );

    expect(reply.json).toEqual({ detail: "Invalid or missing API key" });
    expect(reply.headers).not.toHaveProperty("Access-Control-Allow-Origin");
    expect(reply.headers).not.toHaveProperty("Access-Control-Allow-Headers");
  });
});

describe("api(): multipart uploads", () => {
  const boundary = "----formdata-unit-0123456789";
  const multipart = (field: string, filename: string, content: string): string =>
    [
      `--${boundary}`,
      `Content-Disposition: form-data; name="${field}"; filename="${filename}"`,
      "Content-Type: application/json",
      "",
      content,
      `--${boundary}--`,
      "",
    ].join("\r\n");

  it("gives the function the uploaded file's bytes, from a base64 body as API Gateway sends binary media", async () => {
    const content = JSON.stringify({ categories: [] });
    const handler = api(async ({ body: form }) => ({ text: body.formFile(form, "file").toString() }), { multipart: true, studio });

    const reply = await invoke(handler, {
      method: "POST",
      headers: { "Content-Type": `multipart/form-data; boundary="${boundary}"` },
      body: Buffer.from(multipart("file", "models.json", content)).toString("base64"),
      isBase64Encoded: true,
    });

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ text: content });
  });

  it("answers 400 explaining how to upload when the request is not multipart", async () => {
    const fn = vi.fn(async () => ({}));

    const reply = await invoke(api(fn, { multipart: true, studio }), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });

    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ detail: 'Expected a multipart/form-data upload (curl -F "file=@models.json")' });
    expect(fn).not.toHaveBeenCalled();
  });

  it.each([
    ["inside a file part", (form: string) => form.slice(0, form.indexOf(`--${boundary}--`) - 10)],
    ["right after a file part's headers", (form: string) => form.slice(0, form.indexOf("\r\n\r\n") + 4)],
    ["without its closing boundary", (form: string) => form.replace(`--${boundary}--`, `--${boundary}`)],
  ])("answers 400 for an upload cut off %s, and the process lives on", async (_what, cut) => {
    // busboy used to throw on the part's stream, where nobody listened: the whole process died
    const uncaught = vi.fn();
    process.on("uncaughtException", uncaught);
    const fn = vi.fn(async () => ({}));

    const reply = await invoke(api(fn, { multipart: true, studio }), {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      body: cut(multipart("file", "models.json", JSON.stringify({ categories: [] }))),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off("uncaughtException", uncaught);

    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ detail: `The multipart upload ends before its closing boundary '--${boundary}--': send the whole form` });
    expect(uncaught).not.toHaveBeenCalled();
    expect(fn).not.toHaveBeenCalled();
  });

  it("answers 400 naming the field when the upload has no file under it", async () => {
    const handler = api(async ({ body: form }) => ({ size: body.formFile(form, "file").length }), { multipart: true, studio });

    const reply = await invoke(handler, {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      body: multipart("upload", "models.json", "{}"),
    });

    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ detail: "Missing form field 'file': upload the JSON file as file=@models.json" });
  });
});
