import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config";

const CWD = "/srv/pod";

describe("secrets in the configuration", () => {
  const env = { API_KEY: "api-key-s3cr3t", CIVITAI_API_KEY: "civitai-s3cr3t", HF_TOKEN: "hf_s3cr3t" };
  const values = Object.values(env);

  it("print as [redacted] through JSON.stringify", () => {
    const config = parseConfig(env, CWD);

    const json = JSON.stringify(config);

    for (const value of values) expect(json).not.toContain(value);
    expect(JSON.parse(json)).toMatchObject({ apiKey: "[redacted]", civitaiApiKey: "[redacted]", hfToken: "[redacted]" });
  });

  it("print as [redacted] through String() and template literals", () => {
    const config = parseConfig(env, CWD);

    expect(String(config.apiKey)).toBe("[redacted]");
    expect(`${config.civitaiApiKey}`).toBe("[redacted]");
    expect(`token=${config.hfToken}`).toBe("token=[redacted]");
  });

  it("print as [redacted] through util.inspect and console-style formatting", () => {
    const config = parseConfig(env, CWD);

    const printed = [
      inspect(config),
      inspect(config, { depth: Infinity, showHidden: true }),
      format("%o", config),
      format("%s %O", config.hfToken, config),
    ];

    for (const text of printed) {
      for (const value of values) expect(text).not.toContain(value);
      expect(text).toContain("[redacted]");
    }
  });

  it("give their value to reveal() only", () => {
    const config = parseConfig(env, CWD);

    expect(config.apiKey?.reveal()).toBe("api-key-s3cr3t");
    expect(config.civitaiApiKey?.reveal()).toBe("civitai-s3cr3t");
    expect(config.hfToken?.reveal()).toBe("hf_s3cr3t");
  });
});
