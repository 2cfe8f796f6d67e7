import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../support/stack";

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** What API Gateway would be given: `sls package` needs no AWS credentials. */
describe("the cloud template (sls package)", () => {
  let out: string;
  let resources: Record<string, Resource>;

  beforeAll(async () => {
    out = await mkdtemp(path.join(os.tmpdir(), "models-admin-package-"));
    await promisify(execFile)(path.join(PROJECT_DIR, "node_modules", ".bin", "sls"), ["package", "--package", out], {
      cwd: PROJECT_DIR,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CORS_ORIGINS: "chrome-extension://*,https://admin.example.com" },
    });
    const template = JSON.parse(await readFile(path.join(out, "cloudformation-template-update-stack.json"), "utf8"));
    resources = template.Resources;
  }, 60_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  it("runs every function on nodejs24.x behind a REST API that accepts multipart uploads", () => {
    const functions = ofType("AWS::Lambda::Function");
    const api = ofType("AWS::ApiGateway::RestApi")[0]!;

    expect(functions.length).toBeGreaterThanOrEqual(4);
    expect(functions.map((f) => f.Properties.Runtime)).toEqual(functions.map(() => "nodejs24.x"));
    expect(api.Properties.BinaryMediaTypes).toContain("multipart/form-data");
  });

  it("answers CORS preflight for every route with the configured origins, wildcards included", () => {
    const methods = ofType("AWS::ApiGateway::Method");
    const options = methods.filter((m) => m.Properties.HttpMethod === "OPTIONS");
    const routes = methods.filter((m) => m.Properties.HttpMethod !== "OPTIONS");

    expect(options).toHaveLength(routes.length);
    for (const method of options) {
      const integration = method.Properties.Integration as {
        IntegrationResponses: { ResponseParameters: Record<string, string>; ResponseTemplates: Record<string, string> }[];
      };
      const response = integration.IntegrationResponses[0]!;
      expect(response.ResponseParameters["method.response.header.Access-Control-Allow-Headers"]).toBe("'Content-Type,X-API-Key'");
      const template = response.ResponseTemplates["application/json"]!;
      expect(template).toContain("chrome-extension://.+");
      expect(template).toContain("https://admin[.]example[.]com");
    }
  });
});
