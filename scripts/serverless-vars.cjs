/**
 * The deploy-time settings serverless.yml reads at package time (`${file(./scripts/serverless-vars.cjs):name}`).
 * Each comes from `--param name=value`, else (where a variable is named below) the deploy environment's
 * variable of the pod's name, else the pod's default; an empty value means the default, as lib/config.ts
 * reads it. The values are written into the template, so the functions' environment is plain strings.
 * Keep the defaults in step with lib/config.ts.
 */
const DEFAULT_CORS_ORIGINS = "chrome-extension://*";
const DEFAULT_API_KEY_PARAMETER = "/comfyui-models-admin/api-key";
// The access point's root is the pod's /workspace; Lambda mounts it here (it mounts file systems under /mnt only).
const POD_ROOT = "/workspace";
const LAMBDA_ROOT = "/mnt/workspace";
// What CloudWatch Logs accepts as a retention
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

async function setting(resolveVariable, param, envName) {
  const value = await resolveVariable(envName ? `param:${param}, env:${envName}, ''` : `param:${param}, ''`);
  return String(value ?? "").trim();
}

const fail = (message) => {
  throw new Error(message);
};

/** A folder of the pod, as the functions see it on the mounted volume. */
function lambdaPath(podPath, param) {
  const segments = podPath.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (!podPath.startsWith("/") || `/${segments[0]}` !== POD_ROOT || segments.includes("..")) {
    fail(`--param ${param}=${podPath}: give the pod's folder, under ${POD_ROOT} (the EFS access point's root)`);
  }
  return [LAMBDA_ROOT, ...segments.slice(1)].join("/");
}

const splitOrigins = (value) =>
  value
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);

const corsOriginList = async (resolveVariable) =>
  splitOrigins((await setting(resolveVariable, "corsOrigins", "CORS_ORIGINS")) || DEFAULT_CORS_ORIGINS);

async function apiKeyParameterName(resolveVariable) {
  const name = (await setting(resolveVariable, "apiKeyParameter")) || DEFAULT_API_KEY_PARAMETER;
  if (!/^[A-Za-z0-9_.\-/]{1,1011}$/.test(name)) fail(`--param apiKeyParameter=${name}: not an SSM parameter name`);
  return name;
}

/** arn:<partition>:<service>:<region>:<account>:<rest>, with the stack's own partition, region and account. */
const ownArn = (service, rest) => ({
  "Fn::Join": [
    "",
    ["arn:", { Ref: "AWS::Partition" }, `:${service}:`, { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, `:${rest}`],
  ],
});

/** Origins allowed to call the API from a browser: the preflight (custom.cors) and the functions read the same. */
const corsOrigins = ({ resolveVariable }) => corsOriginList(resolveVariable);

/** Every runtime variable the API side reads (lib/config.ts); the sidecar's own (credentials, tuning) stay on the pod. */
async function lambdaEnvironment({ resolveVariable }) {
  const studioDir = (await setting(resolveVariable, "studioDir")) || `${POD_ROOT}/studio`;
  const comfyuiDir = (await setting(resolveVariable, "comfyuiDir")) || `${POD_ROOT}/ComfyUI`;
  const modelsDir = (await setting(resolveVariable, "modelsDir")) || `${comfyuiDir}/models`;
  return {
    STUDIO_DIR: lambdaPath(studioDir, "studioDir"),
    COMFYUI_DIR: lambdaPath(comfyuiDir, "comfyuiDir"),
    MODELS_DIR: lambdaPath(modelsDir, "modelsDir"),
    CORS_ORIGINS: (await corsOriginList(resolveVariable)).join(","),
    // empty: check-for-updates answers its 409 "CATALOG_REPO_URL is not set"
    CATALOG_REPO_URL: await setting(resolveVariable, "catalogRepoUrl", "CATALOG_REPO_URL"),
    // the SSM SecureString that holds the key (lib/http/key-source.ts); the key itself is never here
    API_KEY_PARAMETER: await apiKeyParameterName(resolveVariable),
  };
}

/** The ARN of the key's parameter, for the one ssm:GetParameter the functions may do. */
async function apiKeyParameterArn({ resolveVariable }) {
  return ownArn("ssm", `parameter/${(await apiKeyParameterName(resolveVariable)).replace(/^\//, "")}`);
}

/** The KMS key that encrypts the parameter: `--param apiKeyKmsKeyArn=...`, else any of the account's (aws/ssm). */
async function apiKeyKmsKey({ resolveVariable }) {
  const arn = await setting(resolveVariable, "apiKeyKmsKeyArn");
  if (arn === "") return ownArn("kms", "key/*");
  if (!/^arn:[\w-]+:kms:[\w-]+:\d{12}:key\/[\w-]+$/.test(arn)) fail(`--param apiKeyKmsKeyArn=${arn}: not a KMS key ARN`);
  return arn;
}

/**
 * API Gateway's own answers (unknown route, throttled, too large, timeouts) can only carry a fixed
 * Access-Control-Allow-Origin, or echo any Origin. Echoing would tell every site it may read them, so a
 * fixed value is given only when it is the whole policy: one origin without `*`, or `*` itself.
 */
async function gatewayResponseCors({ resolveVariable }) {
  const origins = await corsOriginList(resolveVariable);
  const [only] = origins;
  if (origins.length !== 1 || (only !== "*" && only.includes("*"))) return {};
  return { "gatewayresponse.header.Access-Control-Allow-Origin": `'${only}'` };
}

async function logRetentionInDays({ resolveVariable }) {
  const value = (await setting(resolveVariable, "logRetentionInDays")) || "14";
  const days = Number(value);
  if (!RETENTION_DAYS.includes(days)) fail(`--param logRetentionInDays=${value}: one of ${RETENTION_DAYS.join(", ")}`);
  return days;
}

const positive = (param, fallback, integer) =>
  async function ({ resolveVariable }) {
    const value = (await setting(resolveVariable, param)) || String(fallback);
    const number = Number(value);
    if (!(number > 0) || (integer && !Number.isInteger(number))) fail(`--param ${param}=${value}: a ${integer ? "whole " : ""}number above 0`);
    return number;
  };

module.exports = {
  corsOrigins,
  lambdaEnvironment,
  apiKeyParameterArn,
  apiKeyKmsKey,
  gatewayResponseCors,
  logRetentionInDays,
  // every request to the stage, keyless ones included, before any function runs (requests per second)
  throttleRateLimit: positive("throttleRateLimit", 20, false),
  throttleBurstLimit: positive("throttleBurstLimit", 40, true),
};
