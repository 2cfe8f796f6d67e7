import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { call } from "../support/client";

const inline = (html: string, tag: string): string[] =>
  [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((match) => match[1]!);
const hash = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

describe("GET /admin", () => {
  it("serves the page without a key, with a CSP that allows exactly its own inline script and style", async () => {
    const { status, headers, text } = await call("GET", "/admin", { key: null });

    expect(status).toBe(200);
    expect(headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(headers.get("x-content-type-options")).toBe("nosniff");
    expect(headers.get("cache-control")).toBe("no-cache");
    expect(text).toMatch(/^<!doctype html>/i);
    expect(text).toContain("<title>Models admin</title>");
    const scripts = inline(text, "script");
    const styles = inline(text, "style");
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    const policy = headers.get("content-security-policy")!;
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain(`script-src ${hash(scripts[0]!)}`);
    expect(policy).toContain(`style-src ${hash(styles[0]!)}`);
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it("ships its script built, with nothing loaded from elsewhere", async () => {
    const { text } = await call("GET", "/admin", { key: null });

    expect(text).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\//);
    // bundled and minified by esbuild from web/admin: no TypeScript, no module imports left
    expect(inline(text, "script")[0]).not.toMatch(/\bimport\s*[{*]|\bexport\s/);
  });

  it("answers 304 when the browser already has it", async () => {
    const first = await call("GET", "/admin", { key: null });

    const again = await call("GET", "/admin", { key: null, headers: { "If-None-Match": first.headers.get("etag")! } });

    expect(again.status).toBe(304);
  });

  it("leaves every API route behind the key", async () => {
    for (const [method, path] of [
      ["GET", "/api/admin/models"],
      ["GET", "/api/admin/models/status"],
      ["POST", "/api/admin/models/download/x.safetensors"],
      ["DELETE", "/api/admin/models/x.safetensors"],
    ] as const) {
      const { status, json } = await call(method, path, { key: null });

      expect({ method, path, status, json }).toEqual({ method, path, status: 401, json: { detail: "Invalid or missing API key" } });
    }
  });
});
