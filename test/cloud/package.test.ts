import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { packagedTemplate } from "../support/package";
import { zipEntry } from "../support/zip";

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** What API Gateway would be given: `sls package` needs no AWS credentials. */
describe("the cloud template (sls package)", () => {
  let out: string;
  let resources: Record<string, Resource>;
  let parameters: Record<string, { Type: string; Default?: string }>;

  beforeAll(async () => {
    // packaged once per run for this file and lambda-runtime.test.ts (support/global-package.ts)
    out = inject("packageDir");
    const template = await packagedTemplate(out);
    resources = template.Resources as Record<string, Resource>;
    parameters = template.Parameters as Record<string, { Type: string; Default?: string }>;
  });

  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);
  /** The URL path of an API Gateway resource, from its chain of parents. */
  const pathOf = (ref: { Ref: string } | { "Fn::GetAtt": unknown }): string => {
    if (!("Ref" in ref)) return "";
    const resource = resources[ref.Ref]!;
    return `${pathOf(resource.Properties.ParentId as { Ref: string })}/${resource.Properties.PathPart as string}`;
  };

  it("runs every function on nodejs24.x behind a REST API that accepts multipart uploads", () => {
    const functions = ofType("AWS::Lambda::Function");
    const api = ofType("AWS::ApiGateway::RestApi")[0]!;

    expect(functions.length).toBeGreaterThanOrEqual(4);
    expect(functions.map((f) => f.Properties.Runtime)).toEqual(functions.map(() => "nodejs24.x"));
    expect(api.Properties.BinaryMediaTypes).toContain("multipart/form-data");
  });

  it("serves every endpoint of the API through API Gateway", () => {
    const routes = ofType("AWS::ApiGateway::Method")
      .filter((m) => m.Properties.HttpMethod !== "OPTIONS")
      .map((m) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId as { Ref: string })}`)
      .sort();

    expect(routes).toEqual(
      [
        "GET /api/admin/models",
        "GET /api/admin/models/civitai-map",
        "DELETE /api/admin/models/{filename}/catalog",
        "POST /api/admin/models/import",
        "POST /api/admin/models/download/{filename}",
        "POST /api/admin/models/download-batch",
        "GET /api/admin/models/status",
        "DELETE /api/admin/models/{filename}",
        "POST /api/admin/models/fetch-metadata",
        "GET /api/admin/models/metadata-status",
        "GET /api/admin/activity-log",
        "POST /api/admin/activity-log/clear",
        "POST /api/admin/models/check-updates",
        "GET /api/admin/models/check-updates",
        "POST /api/admin/models/sync",
        "GET /admin",
      ].sort(),
    );
  });

  it("streams the status endpoint (InvokeWithResponseStream) and gives it a streaming timeout", () => {
    const method = ofType("AWS::ApiGateway::Method").find(
      (m) => m.Properties.HttpMethod === "GET" && pathOf(m.Properties.ResourceId as { Ref: string }) === "/api/admin/models/status",
    )!;
    const integration = method.Properties.Integration as { ResponseTransferMode: string; Uri: unknown };
    const statusFunction = resources.ModelsStatusLambdaFunction!;
    const timeouts = ofType("AWS::Lambda::Function").map((f) => f.Properties.Timeout);

    expect(integration.ResponseTransferMode).toBe("STREAM");
    expect(JSON.stringify(integration.Uri)).toContain("/response-streaming-invocations");
    expect(statusFunction.Properties.Timeout).toBe(900);
    // every other function answers within API Gateway's 29 s
    expect(timeouts.filter((t) => t !== 900).every((t) => t === 29)).toBe(true);
  });

  it("mounts the same EFS access point at the same path in every function, inside the VPC given as parameters", () => {
    const functions = ofType("AWS::Lambda::Function");

    for (const fn of functions) {
      // the admin page reads no file: it loads even when the volume can't be reached
      expect(fn.Properties.FileSystemConfigs).toEqual(
        fn === resources.AdminPageLambdaFunction
          ? undefined
          : [{ Arn: { "Fn::Join": ["", [{ Ref: "EfsAccessPointArn" }]] }, LocalMountPath: "/mnt/workspace" }],
      );
      expect(fn.Properties.VpcConfig).toEqual({
        SecurityGroupIds: { "Fn::Split": [",", { Ref: "SecurityGroupIds" }] },
        SubnetIds: { "Fn::Split": [",", { Ref: "SubnetIds" }] },
      });
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.STUDIO_DIR).toBe("/mnt/workspace/studio");
      expect(env.COMFYUI_DIR).toBe("/mnt/workspace/ComfyUI");
    }
    expect(Object.keys(parameters)).toEqual(expect.arrayContaining(["EfsAccessPointArn", "SubnetIds", "SecurityGroupIds"]));
  });

  it("builds the admin page into its function's bundle", async () => {
    const bundle = await zipEntry(path.join(out, "adminPage.zip"), "handlers/admin-page.js");

    expect(bundle).toContain("<title>Models admin</title>");
    expect(bundle).toContain("Content-Security-Policy");
    // with the hash its CSP names the inline script by: built whole, at package time
    expect(bundle).toMatch(/"scriptHash": "sha256-[A-Za-z0-9+/]{43}="/);
  });

  it("answers API Gateway's own refusals as {\"detail\"}", () => {
    const responses = ofType("AWS::ApiGateway::GatewayResponse").map((r) => r.Properties);

    expect(responses.map((r) => r.ResponseType).sort()).toEqual(["DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE"]);
    for (const response of responses) {
      expect((response.ResponseTemplates as Record<string, string>)["application/json"]).toMatch(/^\{"detail": /);
    }
    expect(responses.find((r) => r.ResponseType === "MISSING_AUTHENTICATION_TOKEN")!.StatusCode).toBe("404");
  });

  it("takes the API key from SSM Parameter Store, never from a literal", () => {
    const keys = ofType("AWS::Lambda::Function").map(
      (fn) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.API_KEY,
    );

    expect(keys.every((key) => JSON.stringify(key) === JSON.stringify({ Ref: "ApiKey" }))).toBe(true);
    expect(parameters.ApiKey).toMatchObject({ Type: "AWS::SSM::Parameter::Value<String>", Default: "/comfyui-models-admin/api-key" });
  });

  it("answers CORS preflight for every route with the configured origins, wildcards included", () => {
    const methods = ofType("AWS::ApiGateway::Method");
    const options = methods.filter((m) => m.Properties.HttpMethod === "OPTIONS");
    // the admin page is loaded by navigation, never called across origins: no preflight
    const routes = methods.filter(
      (m) => m.Properties.HttpMethod !== "OPTIONS" && pathOf(m.Properties.ResourceId as { Ref: string }).startsWith("/api/"),
    );

    // one preflight per path, whatever methods it has
    const paths = new Set(routes.map((m) => JSON.stringify(m.Properties.ResourceId)));
    expect(options).toHaveLength(paths.size);
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
