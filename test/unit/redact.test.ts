import { describe, expect, it } from "vitest";
import { redactSecrets, secretsOf } from "../../lib/redact";
import { Secret } from "../../lib/secret";
import { testConfig } from "./helpers";

describe("redactSecrets", () => {
  it("hides every configured credential wherever it stands in a log line", () => {
    const secrets = [new Secret("hf_abcdefghijklmnop"), new Secret("civitai-0123456789")];

    const line = redactSecrets(
      "GET https://huggingface.co/x failed: Bearer hf_abcdefghijklmnop; retry with civitai-0123456789 and hf_abcdefghijklmnop",
      secrets,
    );

    expect(line).toBe("GET https://huggingface.co/x failed: Bearer [redacted]; retry with [redacted] and [redacted]");
  });

  it("hides a token= query value even when it is not one we know", () => {
    const line = redactSecrets("redirect to https://civitai.com/api/download/models/1?type=Model&token=zzz999 failed", []);

    expect(line).toBe("redirect to https://civitai.com/api/download/models/1?type=Model&token=[redacted] failed");
  });

  it("hides a credential in its URL-encoded form too", () => {
    const line = redactSecrets("GET https://example.test/x?key=ab%2Bcd%2F12%3D failed", [new Secret("ab+cd/12=")]);

    expect(line).toBe("GET https://example.test/x?key=[redacted] failed");
  });

  it("hides any bearer token, known or not", () => {
    const line = redactSecrets('request had "Authorization: Bearer hf_unknown123", then failed', []);

    expect(line).toBe('request had "Authorization: Bearer [redacted]", then failed');
  });
});

describe("secretsOf", () => {
  it("gives the credentials a configuration holds, and redactSecrets hides each of them", () => {
    const config = testConfig({ API_KEY: "api-key-0123", CIVITAI_API_KEY: "civitai-0123", HF_TOKEN: undefined });

    const secrets = secretsOf(config);

    expect(secrets.map((secret) => secret.reveal())).toEqual(["api-key-0123", "civitai-0123"]);
    expect(redactSecrets("sent api-key-0123 and civitai-0123", secrets)).toBe("sent [redacted] and [redacted]");
  });
});
