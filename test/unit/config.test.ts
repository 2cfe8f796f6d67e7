import { accessSync, constants } from "node:fs";
import { mkdir, realpath, symlink } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../lib/config";
import { statusOf } from "../../lib/http/error-response";
import { makeTempDir, removeTempDir } from "./helpers";

const CWD = "/srv/pod";

const workspaceWritable = (): boolean => {
  try {
    accessSync("/workspace", constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseConfig(env, CWD);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected parseConfig to fail");
}

describe("parseConfig: defaults", () => {
  it("uses the documented defaults when nothing is set", () => {
    // Prepare / Act
    const config = parseConfig({}, CWD);

    // Assess
    expect(config).toMatchObject({
      apiKey: undefined,
      apiKeyParameter: undefined,
      civitaiApiKey: undefined,
      hfToken: undefined,
      civitaiBaseUrl: "https://civitai.com",
      hfEndpoint: "https://huggingface.co",
      catalogRepoUrl: undefined,
      maxConcurrentDownloads: 3,
      downloadConnections: 8,
      port: 3000,
      host: "0.0.0.0",
      corsOrigins: ["chrome-extension://*"],
      allowPrivateUrls: false,
    });
  });

  it("puts the studio in /workspace/studio when /workspace is writable, else ./.studio", () => {
    const config = parseConfig({}, CWD);

    const expected = workspaceWritable() ? "/workspace/studio" : path.join(CWD, ".studio");
    expect(config.studioDir).toBe(expected);
    expect(config.catalogsDir).toBe(path.join(expected, "catalogs"));
    expect(config.stateDir).toBe(path.join(expected, "state"));
    expect(config.repoDir).toBe(path.join(expected, ".repo"));
  });

  it("keeps models in $COMFYUI_DIR/models unless MODELS_DIR says otherwise", () => {
    const defaulted = parseConfig({ COMFYUI_DIR: "/opt/ComfyUI" }, CWD);
    const overridden = parseConfig({ COMFYUI_DIR: "/opt/ComfyUI", MODELS_DIR: "/mnt/models" }, CWD);

    expect(defaulted.comfyuiDir).toBe("/opt/ComfyUI");
    expect(defaulted.modelsDir).toBe("/opt/ComfyUI/models");
    expect(overridden.modelsDir).toBe("/mnt/models");
  });

  it("resolves relative folders against the working directory", () => {
    const config = parseConfig({ STUDIO_DIR: "data/studio", COMFYUI_DIR: "comfy", MODELS_DIR: "./m" }, CWD);

    expect(config.studioDir).toBe("/srv/pod/data/studio");
    expect(config.catalogsDir).toBe("/srv/pod/data/studio/catalogs");
    expect(config.comfyuiDir).toBe("/srv/pod/comfy");
    expect(config.modelsDir).toBe("/srv/pod/m");
  });

  it("treats empty and blank variables as unset", () => {
    const config = parseConfig(
      {
        API_KEY: "",
        CIVITAI_API_KEY: "   ",
        HF_TOKEN: "",
        STUDIO_DIR: "",
        COMFYUI_DIR: " ",
        MODELS_DIR: "",
        CIVITAI_BASE_URL: "",
        HF_ENDPOINT: "  ",
        CATALOG_REPO_URL: "",
        MAX_CONCURRENT_DOWNLOADS: "",
        DOWNLOAD_CONNECTIONS: " ",
        PORT: "",
        HOST: "",
        CORS_ORIGINS: "",
      },
      CWD,
    );

    expect(config).toEqual(parseConfig({}, CWD));
    expect(config.apiKey).toBeUndefined();
    expect(config.port).toBe(3000);
  });

  it("reads every variable that is set, trimmed", () => {
    const config = parseConfig(
      {
        API_KEY: " the-api-key\n",
        CIVITAI_BASE_URL: "http://127.0.0.1:9001",
        HF_ENDPOINT: "http://127.0.0.1:9002/hf",
        CATALOG_REPO_URL: "file:///srv/catalog.git",
        MAX_CONCURRENT_DOWNLOADS: "5",
        DOWNLOAD_CONNECTIONS: " 16 ",
        PORT: "8080",
        HOST: "127.0.0.1",
      },
      CWD,
    );

    expect(config.apiKey?.reveal()).toBe("the-api-key");
    expect(config.civitaiBaseUrl).toBe("http://127.0.0.1:9001");
    expect(config.hfEndpoint).toBe("http://127.0.0.1:9002/hf");
    expect(config.catalogRepoUrl).toBe("file:///srv/catalog.git");
    expect(config.maxConcurrentDownloads).toBe(5);
    expect(config.downloadConnections).toBe(16);
    expect(config.port).toBe(8080);
    expect(config.host).toBe("127.0.0.1");
  });

  it("drops trailing slashes from the upstream base URLs", () => {
    const config = parseConfig({ CIVITAI_BASE_URL: "http://127.0.0.1:9001//", HF_ENDPOINT: "https://hf.example/" }, CWD);

    expect(config.civitaiBaseUrl).toBe("http://127.0.0.1:9001");
    expect(config.hfEndpoint).toBe("https://hf.example");
  });

  it("splits CORS_ORIGINS on commas, trimming and dropping empty parts", () => {
    const config = parseConfig({ CORS_ORIGINS: " https://admin.example , chrome-extension://*,, " }, CWD);

    expect(config.corsOrigins).toEqual(["https://admin.example", "chrome-extension://*"]);
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    [" True ", true],
    ["1", true],
    ["false", false],
    ["False", false],
    ["0", false],
    ["", false],
  ])("reads ALLOW_PRIVATE_URLS=%j as %s", (value, allowed) => {
    expect(parseConfig({ ALLOW_PRIVATE_URLS: value }, CWD).allowPrivateUrls).toBe(allowed);
  });

  it("returns a frozen configuration", () => {
    const config = parseConfig({}, CWD);

    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});

describe("parseConfig: bad values fail fast with the variable's name", () => {
  it.each([
    ["PORT", "abc", /PORT: must be a whole number/],
    ["PORT", "-1", /PORT: must be a whole number/],
    ["PORT", "3000.5", /PORT: must be a whole number/],
    ["PORT", "0", /PORT:/],
    ["PORT", "70000", /PORT:/],
    ["MAX_CONCURRENT_DOWNLOADS", "lots", /MAX_CONCURRENT_DOWNLOADS: must be a whole number/],
    ["MAX_CONCURRENT_DOWNLOADS", "0", /MAX_CONCURRENT_DOWNLOADS:/],
    ["MAX_CONCURRENT_DOWNLOADS", "33", /MAX_CONCURRENT_DOWNLOADS:/],
    ["DOWNLOAD_CONNECTIONS", "8x", /DOWNLOAD_CONNECTIONS: must be a whole number/],
    ["CIVITAI_BASE_URL", "not a url", /CIVITAI_BASE_URL: must be an http\(s\) URL/],
    ["CIVITAI_BASE_URL", "ftp://civitai.example", /CIVITAI_BASE_URL: must be an http\(s\) URL/],
    ["HF_ENDPOINT", "huggingface.co", /HF_ENDPOINT: must be an http\(s\) URL/],
    ["ALLOW_PRIVATE_URLS", "yes", /ALLOW_PRIVATE_URLS: must be true or false \(or 1 or 0\)/],
    ["ALLOW_PRIVATE_URLS", "ture", /ALLOW_PRIVATE_URLS: must be true or false \(or 1 or 0\)/],
    ["ALLOW_PRIVATE_URLS", "2", /ALLOW_PRIVATE_URLS: must be true or false \(or 1 or 0\)/],
  ])("refuses %s=%j and names it", (name, value, message) => {
    const error = configError({ [name]: value });

    expect(error.message).toMatch(/^Invalid configuration: /);
    expect(error.message).toMatch(message);
  });

  it("lists every bad variable in one error", () => {
    const error = configError({ PORT: "http", MAX_CONCURRENT_DOWNLOADS: "many", CIVITAI_BASE_URL: "civitai" });

    expect(error.message).toContain("PORT:");
    expect(error.message).toContain("MAX_CONCURRENT_DOWNLOADS:");
    expect(error.message).toContain("CIVITAI_BASE_URL:");
  });

  it("is a 500 whose detail a Lambda can show, since the request cannot be served", () => {
    const error = configError({ PORT: "abc" });

    expect(statusOf(error)).toBe(500);
    expect(error.detail).toBe(error.message);
  });
});

describe("parseConfig: the studio and the models folder kept apart", () => {
  const REASON = "the models scan would take the studio's state files and catalogs for models, and a catalog entry could overwrite them";
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir("models-admin-config-");
  });
  afterEach(async () => {
    await removeTempDir(root);
  });

  it("refuses STUDIO_DIR inside MODELS_DIR, naming both with their values and why", () => {
    const error = configError({ STUDIO_DIR: "/pod/ComfyUI/models/studio", COMFYUI_DIR: "/pod/ComfyUI" });

    expect(error.message).toBe(
      `Invalid configuration: STUDIO_DIR (/pod/ComfyUI/models/studio) is inside MODELS_DIR (/pod/ComfyUI/models): ${REASON}. ` +
        "Keep them in separate folders, e.g. STUDIO_DIR=/workspace/studio and MODELS_DIR=/workspace/ComfyUI/models (MODELS_DIR defaults to $COMFYUI_DIR/models)",
    );
  });

  it.each([
    ["the same folder", { STUDIO_DIR: "/pod/shared", MODELS_DIR: "/pod/shared/" }, "STUDIO_DIR (/pod/shared) and MODELS_DIR (/pod/shared) are the same folder"],
    ["relative paths that meet", { STUDIO_DIR: "data", MODELS_DIR: "./data/../data" }, "STUDIO_DIR (/srv/pod/data) and MODELS_DIR (/srv/pod/data) are the same folder"],
    ["the studio's state folder", { STUDIO_DIR: "/pod/studio", MODELS_DIR: "/pod/studio/state/models" }, "MODELS_DIR (/pod/studio/state/models) is inside the studio's own state in STUDIO_DIR (/pod/studio)"],
    ["the studio's catalogs", { STUDIO_DIR: "/pod/studio", MODELS_DIR: "/pod/studio/catalogs" }, "MODELS_DIR (/pod/studio/catalogs) is inside the studio's own catalogs in STUDIO_DIR (/pod/studio)"],
    ["the models folder's parent", { STUDIO_DIR: "/pod/ComfyUI/models/a/b", MODELS_DIR: "/pod/ComfyUI/models" }, "STUDIO_DIR (/pod/ComfyUI/models/a/b) is inside MODELS_DIR (/pod/ComfyUI/models)"],
  ])("refuses %s", (_what, env, message) => {
    expect(configError(env).message).toContain(`${message}: ${REASON}`);
  });

  it.each([
    ["side by side", { STUDIO_DIR: "/workspace/studio", COMFYUI_DIR: "/workspace/ComfyUI" }],
    ["models in a folder of the studio's that it does not use (the default off a pod)", { STUDIO_DIR: ".studio", COMFYUI_DIR: ".studio/ComfyUI" }],
    ["names that only start alike", { STUDIO_DIR: "/pod/models-studio", MODELS_DIR: "/pod/models" }],
  ])("accepts folders %s", (_what, env) => {
    expect(() => parseConfig(env, CWD)).not.toThrow();
  });

  it("refuses a studio that is a link into the models folder, saying where it really is", async () => {
    const models = path.join(root, "models");
    await mkdir(path.join(models, "hidden-studio"), { recursive: true });
    await symlink(path.join(models, "hidden-studio"), path.join(root, "studio"));

    const error = configError({ STUDIO_DIR: path.join(root, "studio"), MODELS_DIR: models });

    expect(error.message).toContain(`STUDIO_DIR (${root}/studio, really ${await realpath(models)}/hidden-studio) is inside MODELS_DIR`);
  });

  it("refuses a studio not made yet whose parent links into the models folder", async () => {
    const models = path.join(root, "models");
    await mkdir(models, { recursive: true });
    await symlink(models, path.join(root, "via"));

    const error = configError({ STUDIO_DIR: path.join(root, "via", "later", "studio"), MODELS_DIR: models });

    expect(error.message).toContain(`really ${await realpath(models)}/later/studio) is inside MODELS_DIR (${models}`);
  });

  it("refuses models that a link puts in the studio's state folder", async () => {
    const studio = path.join(root, "studio");
    await mkdir(path.join(studio, "state"), { recursive: true });
    await symlink(path.join(studio, "state"), path.join(root, "models"));

    const error = configError({ STUDIO_DIR: studio, MODELS_DIR: path.join(root, "models") });

    expect(error.message).toContain("is inside the studio's own state in STUDIO_DIR");
  });
});
