import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

// scripts/serverless-vars.cjs as osls calls it: each export with a `resolveVariable` that knows the
// `--param`s and the deploy environment. The whole template is checked by test/cloud/package.test.ts;
// here, the cases that would each need a package of their own.

type Resolver = (variable: string) => Promise<unknown>;
type Setting = (context: { resolveVariable: Resolver }) => Promise<unknown>;
const vars = createRequire(__filename)("../../../scripts/serverless-vars.cjs") as Record<string, Setting>;

/** `param:x, env:Y, ''` as osls resolves it: the first source with a value. */
const resolver =
  (params: Record<string, string> = {}, env: Record<string, string> = {}): Resolver =>
  async (variable) => {
    for (const source of variable.split(",").map((s) => s.trim())) {
      if (source.startsWith("param:") && params[source.slice(6)] !== undefined) return params[source.slice(6)];
      if (source.startsWith("env:") && env[source.slice(4)] !== undefined) return env[source.slice(4)];
      if (source === "''") return "";
    }
    return null;
  };

const setting = (name: string, params?: Record<string, string>, env?: Record<string, string>) =>
  vars[name]!({ resolveVariable: resolver(params, env) });

describe("API Gateway's own refusals and CORS", () => {
  it.each([
    ["one fixed origin", "https://admin.example.com", "'https://admin.example.com'"],
    ["any origin", "*", "'*'"],
  ])("carry a fixed Access-Control-Allow-Origin when CORS_ORIGINS is %s", async (_what, origins, header) => {
    expect(await setting("gatewayResponseCors", {}, { CORS_ORIGINS: origins })).toEqual({
      "gatewayresponse.header.Access-Control-Allow-Origin": header,
    });
    expect(await setting("gatewayResponseCors", { corsOrigins: ` ${origins} ,` })).toEqual({
      "gatewayresponse.header.Access-Control-Allow-Origin": header,
    });
  });

  it.each([
    ["a pattern (the default)", undefined],
    ["a pattern", "https://*.example.com"],
    ["several origins", "https://a.example.com,https://b.example.com"],
  ])("carry none when CORS_ORIGINS is %s: echoing any Origin would let every site read them", async (_what, origins) => {
    expect(await setting("gatewayResponseCors", {}, origins === undefined ? {} : { CORS_ORIGINS: origins })).toEqual({});
  });

  it("allows the same origins in the preflight as in the functions' CORS_ORIGINS, a --param before the environment", async () => {
    const params = { corsOrigins: "https://a.example.com, chrome-extension://*" };
    const env = { CORS_ORIGINS: "https://ignored.example.com" };

    const preflight = await setting("corsOrigins", params, env);
    const functions = ((await setting("lambdaEnvironment", params, env)) as Record<string, string>).CORS_ORIGINS;

    expect(preflight).toEqual(["https://a.example.com", "chrome-extension://*"]);
    expect(functions).toBe("https://a.example.com,chrome-extension://*");
  });
});

describe("the functions' folders", () => {
  it("are the pod's folders under /workspace, where Lambda mounts the volume (/mnt/workspace)", async () => {
    const env = (await setting("lambdaEnvironment", { studioDir: "/workspace/admin/", comfyuiDir: "/workspace/./ComfyUI" })) as Record<
      string,
      string
    >;

    expect(env).toMatchObject({
      STUDIO_DIR: "/mnt/workspace/admin",
      COMFYUI_DIR: "/mnt/workspace/ComfyUI",
      MODELS_DIR: "/mnt/workspace/ComfyUI/models",
    });
  });

  it.each(["/opt/models", "/workspace2/models", "/workspace/../etc", "models", "./.studio"])(
    "stop the package when a folder is not under /workspace: %s",
    async (dir) => {
      await expect(setting("lambdaEnvironment", { modelsDir: dir })).rejects.toThrow(/--param modelsDir=.*under \/workspace/);
    },
  );

  it("never take the deploy machine's own STUDIO_DIR, COMFYUI_DIR or MODELS_DIR", async () => {
    const env = (await setting("lambdaEnvironment", {}, { STUDIO_DIR: "./.studio", MODELS_DIR: "/home/me/models" })) as Record<string, string>;

    expect(env.STUDIO_DIR).toBe("/mnt/workspace/studio");
    expect(env.MODELS_DIR).toBe("/mnt/workspace/ComfyUI/models");
  });
});

describe("numbers and names", () => {
  it("keep logs 14 days unless told, and only for a retention CloudWatch accepts", async () => {
    expect(await setting("logRetentionInDays")).toBe(14);
    expect(await setting("logRetentionInDays", { logRetentionInDays: "90" })).toBe(90);
    await expect(setting("logRetentionInDays", { logRetentionInDays: "10" })).rejects.toThrow(/logRetentionInDays=10: one of 1, 3/);
  });

  it("throttle at 20 requests a second with bursts of 40 unless told, and refuse nonsense", async () => {
    expect([await setting("throttleRateLimit"), await setting("throttleBurstLimit")]).toEqual([20, 40]);
    expect(await setting("throttleRateLimit", { throttleRateLimit: "2.5" })).toBe(2.5);
    await expect(setting("throttleBurstLimit", { throttleBurstLimit: "2.5" })).rejects.toThrow(/a whole number above 0/);
    await expect(setting("throttleRateLimit", { throttleRateLimit: "-1" })).rejects.toThrow(/a number above 0/);
  });

  it("refuses an SSM parameter name or KMS key ARN that cannot be one", async () => {
    await expect(setting("lambdaEnvironment", { apiKeyParameter: "/a b" })).rejects.toThrow(/not an SSM parameter name/);
    await expect(setting("apiKeyKmsKey", { apiKeyKmsKeyArn: "alias/aws/ssm" })).rejects.toThrow(/not a KMS key ARN/);
    expect(await setting("apiKeyKmsKey", { apiKeyKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" })).toBe(
      "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    );
  });
});
