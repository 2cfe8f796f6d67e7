import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config";
import { MAX_STREAM_SECONDS } from "../../lib/downloads/status-stream";
import {
  actionsOf,
  apiFunctionsOf,
  arnOf,
  envOf,
  functionsOf,
  methodAt,
  ofType,
  pathOf,
  printed,
  statementsOf,
  type Printed,
  type Resource,
  type Template,
} from "../support/cloud-template";
import { packagedDir } from "../support/packaged";
import { zipEntry } from "../support/zip";

/** What API Gateway would be given: `sls package` needs no AWS credentials. */
describe("the cloud template (sls package)", () => {
  // set: packaged with the deploy environment and `--param`s an operator gives; bare: nothing set at all
  let set: { out: string; template: Template };
  let bare: Printed;
  let out: string;
  let resources: Record<string, Resource>;
  let parameters: Template["Parameters"];

  beforeAll(async () => {
    // packaged once per run (support/global-package.ts), with PACKAGE_ENV and PACKAGE_PARAMS, for the cloud files
    const dir = await packagedDir();
    const template = JSON.parse(await readFile(path.join(dir, "cloudformation-template-update-stack.json"), "utf8")) as Template;
    set = { out: dir, template };
    bare = await printed();
    ({ out } = set);
    ({ Resources: resources, Parameters: parameters } = set.template);
  }, 120_000);

  it("runs every function on nodejs24.x behind a REST API that accepts multipart uploads", () => {
    const functions = functionsOf(set.template);
    const api = ofType(set.template, "AWS::ApiGateway::RestApi")[0]!;

    expect(functions.length).toBeGreaterThanOrEqual(4);
    expect(functions.map((f) => f.Properties.Runtime)).toEqual(functions.map(() => "nodejs24.x"));
    expect(api.Properties.BinaryMediaTypes).toContain("multipart/form-data");
  });

  it("serves every endpoint of the API through API Gateway", () => {
    const routes = ofType(set.template, "AWS::ApiGateway::Method")
      .filter((m) => m.Properties.HttpMethod !== "OPTIONS")
      .map((m) => `${m.Properties.HttpMethod} ${pathOf(set.template, m.Properties.ResourceId as { Ref: string })}`)
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
        // the volume's own files
        ...["GET unlisted", "POST identify", "GET identify", "DELETE identify", "POST adopt", "POST verify", "GET verify", "DELETE verify"].map((r) => r.replace(" ", " /api/admin/models/")),
        "POST /api/admin/models/add",
        // the queue in the user's hands, and its live settings
        ...["models/download/{filename}/pause", "models/download/{filename}/resume", "models/download/{filename}/move", "downloads/pause-all", "downloads/resume-all"].map((r) => `POST /api/admin/${r}`), "GET /api/admin/downloads/settings", "PUT /api/admin/downloads/settings",
        "GET /admin",
      ].sort(),
    );
  });

  it("streams the status endpoint (InvokeWithResponseStream) for up to 15 minutes, longer than any stream lasts", () => {
    const integration = methodAt(set.template, "GET", "/api/admin/models/status").Properties.Integration as {
      ResponseTransferMode: string;
      Uri: unknown;
      TimeoutInMillis?: number;
    };
    const statusFunction = resources.ModelsStatusLambdaFunction!;
    const timeouts = functionsOf(set.template).map((f) => f.Properties.Timeout);

    expect(integration.ResponseTransferMode).toBe("STREAM");
    expect(JSON.stringify(integration.Uri)).toContain("/response-streaming-invocations");
    // API Gateway's streaming limit, not the 29 s of a buffered answer
    expect(integration.TimeoutInMillis).toBe(900_000);
    expect(statusFunction.Properties.Timeout).toBe(900);
    // a stream ends (with its retry hint) at least 30 s before either would cut it
    expect(MAX_STREAM_SECONDS * 1000 + 30_000).toBeLessThanOrEqual(integration.TimeoutInMillis!);
    expect(MAX_STREAM_SECONDS + 30).toBeLessThanOrEqual(statusFunction.Properties.Timeout as number);
    // every other function answers within API Gateway's 29 s
    expect(timeouts.filter((t) => t !== 900).every((t) => t === 29)).toBe(true);
  });

  it("mounts the same EFS access point at the same path in every API function, inside the VPC given as parameters", () => {
    for (const fn of apiFunctionsOf(set.template)) {
      expect(fn.Properties.FileSystemConfigs).toEqual([
        { Arn: { "Fn::Join": ["", [{ Ref: "EfsAccessPointArn" }]] }, LocalMountPath: "/mnt/workspace" },
      ]);
      expect(fn.Properties.VpcConfig).toEqual({
        SecurityGroupIds: { "Fn::Split": [",", { Ref: "SecurityGroupIds" }] },
        SubnetIds: { "Fn::Split": [",", { Ref: "SubnetIds" }] },
      });
    }
    expect(Object.keys(parameters)).toEqual(
      expect.arrayContaining(["EfsFileSystemArn", "EfsAccessPointArn", "SubnetIds", "SecurityGroupIds"]),
    );
  });

  it("gives the admin page function no volume, no VPC and no environment: it holds no key and reads no file", () => {
    const page = resources.AdminPageLambdaFunction!.Properties;

    expect(page.FileSystemConfigs).toBeUndefined();
    expect(page.VpcConfig).toBeUndefined();
    expect(page.Environment).toBeUndefined();
  });

  it("gives every API function the API's configuration, from --param and the deploy environment", () => {
    const envs = apiFunctionsOf(set.template).map(envOf);
    const preflight = (
      ofType(set.template, "AWS::ApiGateway::Method").find((m) => m.Properties.HttpMethod === "OPTIONS")!.Properties.Integration as {
        IntegrationResponses: { ResponseTemplates: Record<string, string> }[];
      }
    ).IntegrationResponses[0]!.ResponseTemplates["application/json"]!;

    expect(envs).toHaveLength(31);
    for (const env of envs) {
      expect(env).toEqual({
        STUDIO_DIR: "/mnt/workspace/studio",
        COMFYUI_DIR: "/mnt/workspace/ComfyUI",
        // the pod's /workspace/models, where Lambda mounts the volume
        MODELS_DIR: "/mnt/workspace/models",
        CORS_ORIGINS: "chrome-extension://*,https://admin.example.com",
        CATALOG_REPO_URL: "https://git.example.com/catalog.git",
        API_KEY_PARAMETER: "/team/models-admin/key",
      });
    }
    // the preflight allows exactly what the functions then allow
    expect(preflight).toContain("chrome-extension://.+");
    expect(preflight).toContain("https://admin[.]example[.]com");
  });

  it("gives the API functions the pod's defaults when nothing is set, and the admin page nothing", () => {
    const { adminPage, ...api } = bare.functions;
    const envs = Object.values(api).map((fn) => fn.environment);
    const onPod = parseConfig({ STUDIO_DIR: "/workspace/studio", COMFYUI_DIR: "/workspace/ComfyUI" }, "/");

    for (const env of envs) {
      expect(env).toEqual({
        STUDIO_DIR: "/mnt/workspace/studio",
        COMFYUI_DIR: "/mnt/workspace/ComfyUI",
        MODELS_DIR: "/mnt/workspace/ComfyUI/models",
        CORS_ORIGINS: "chrome-extension://*",
        CATALOG_REPO_URL: "",
        API_KEY_PARAMETER: "/comfyui-models-admin/api-key",
      });
      // read by lib/config.ts as on a pod where nothing is set: an empty CATALOG_REPO_URL is no URL (a 409)
      const inLambda = parseConfig(env as NodeJS.ProcessEnv, "/");
      expect(inLambda.corsOrigins).toEqual(onPod.corsOrigins);
      expect(inLambda.catalogRepoUrl).toBeUndefined();
      expect(inLambda.apiKey).toBeUndefined();
    }
    expect(envs).toHaveLength(31);
    expect(adminPage).not.toHaveProperty("environment");
    expect(adminPage).not.toHaveProperty("vpc");
  });

  it("never puts a credential in the template: the API key stays in SSM, the upstream tokens on the pod", async () => {
    const text = await readFile(path.join(out, "cloudformation-template-update-stack.json"), "utf8");

    for (const fn of functionsOf(set.template)) {
      expect(Object.keys(envOf(fn) ?? {})).not.toEqual(expect.arrayContaining(["API_KEY"]));
      for (const name of ["API_KEY", "CIVITAI_API_KEY", "HF_TOKEN"]) expect(envOf(fn) ?? {}).not.toHaveProperty(name);
    }
    // not even resolved by CloudFormation at deploy time
    expect(Object.values(parameters).map((p) => p.Type)).not.toContain("AWS::SSM::Parameter::Value<String>");
    expect(text).not.toMatch(/resolve:ssm/);
  });

  it("lets the functions read that one SSM parameter, decrypted through SSM only, and nothing else of SSM or KMS", () => {
    for (const { statements, name } of [
      { statements: statementsOf(set.template), name: "team/models-admin/key" },
      { statements: bare.provider.iam.role.statements, name: "comfyui-models-admin/api-key" },
    ]) {
      const ssm = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("ssm:")));
      const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("kms:")));

      expect(ssm.map((s) => ({ ...s, Action: actionsOf(s) }))).toEqual([{ Effect: "Allow", Action: ["ssm:GetParameter"], Resource: arnOf(name) }]);
      expect(kms).toHaveLength(1);
      expect(actionsOf(kms[0]!)).toEqual(["kms:Decrypt"]);
      expect(kms[0]!.Condition!.StringEquals).toEqual({
        "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
        "kms:EncryptionContext:PARAMETER_ARN": arnOf(name),
      });
    }
  });

  it("grants EFS mount and write once, on the file system, for the access point only", () => {
    const efs = statementsOf(set.template).filter((s) => actionsOf(s).some((a) => a.startsWith("elasticfilesystem:")));

    expect(efs).toEqual([
      {
        Effect: "Allow",
        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        Resource: { Ref: "EfsFileSystemArn" },
        Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": { Ref: "EfsAccessPointArn" } } },
      },
    ]);
  });

  it("keeps the functions' logs for 14 days, or as long as --param logRetentionInDays says", () => {
    const retention = (template: Template) => ofType(template, "AWS::Logs::LogGroup").map((g) => g.Properties.RetentionInDays);

    expect(bare.provider.logRetentionInDays).toBe(14);
    expect(retention(set.template)).toEqual(Array(functionsOf(set.template).length).fill(30));
  });

  it("throttles every method of the stage, so that a flood is answered 429 before any function runs", () => {
    const stage = (template: Template) => ofType(template, "AWS::ApiGateway::Stage");
    const [deploymentId] = Object.keys(set.template.Resources).filter((id) => resources[id]!.Type === "AWS::ApiGateway::Deployment");

    expect(stage(set.template)).toHaveLength(1);
    expect(bare.resources.Resources.ApiStage!.Properties.MethodSettings).toEqual([
      { ResourcePath: "/*", HttpMethod: "*", ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    ]);
    expect(stage(set.template)[0]!.Properties).toMatchObject({
      StageName: "dev",
      DeploymentId: { Ref: deploymentId },
      MethodSettings: [{ ResourcePath: "/*", HttpMethod: "*", ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }],
    });
    // the stage is that resource, not one the Deployment makes without settings
    expect(resources[deploymentId!]!.Properties.StageName).toBeUndefined();
  });

  it("builds the admin page into its function's bundle", async () => {
    const bundle = await zipEntry(path.join(out, "adminPage.zip"), "handlers/admin-page.js");

    expect(bundle).toContain("<title>Models admin</title>");
    expect(bundle).toContain("Content-Security-Policy");
    // with the hash its CSP names the inline script by: built whole, at package time
    expect(bundle).toMatch(/"scriptHash": "sha256-[A-Za-z0-9+/]{43}="/);
  });

  it("answers API Gateway's own refusals as {\"detail\"}, and deploys them with the first Deployment", () => {
    const responses = ofType(set.template, "AWS::ApiGateway::GatewayResponse").map((r) => r.Properties);
    const ids = Object.keys(resources).filter((id) => resources[id]!.Type === "AWS::ApiGateway::GatewayResponse");
    const deployment = ofType(set.template, "AWS::ApiGateway::Deployment")[0]!;

    expect(responses.map((r) => r.ResponseType).sort()).toEqual(["DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE"]);
    for (const response of responses) {
      expect((response.ResponseTemplates as Record<string, string>)["application/json"]).toMatch(/^\{"detail": /);
    }
    expect(responses.find((r) => r.ResponseType === "MISSING_AUTHENTICATION_TOKEN")!.StatusCode).toBe("404");
    expect(deployment.DependsOn).toEqual(expect.arrayContaining(ids));
  });

  it("lets no other origin read API Gateway's own refusals when CORS_ORIGINS has patterns or several origins", () => {
    // API Gateway can only send a fixed origin or echo any: with several allowed, it sends none
    for (const responses of [ofType(set.template, "AWS::ApiGateway::GatewayResponse"), Object.values(bare.resources.Resources)]) {
      for (const response of responses.filter((r) => r.Type === "AWS::ApiGateway::GatewayResponse")) {
        expect(response.Properties.ResponseParameters ?? {}).not.toHaveProperty("gatewayresponse.header.Access-Control-Allow-Origin");
      }
    }
  });

  it("answers CORS preflight for every route with the configured origins, wildcards included", () => {
    const methods = ofType(set.template, "AWS::ApiGateway::Method");
    const options = methods.filter((m) => m.Properties.HttpMethod === "OPTIONS");
    // the admin page is loaded by navigation, never called across origins: no preflight
    const routes = methods.filter(
      (m) => m.Properties.HttpMethod !== "OPTIONS" && pathOf(set.template, m.Properties.ResourceId as { Ref: string }).startsWith("/api/"),
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
