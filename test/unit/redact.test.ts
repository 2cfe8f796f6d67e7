import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../lib/redact";
import { Secret } from "../../lib/secret";

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
