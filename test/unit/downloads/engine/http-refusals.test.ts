import { describe, expect, it } from "vitest";
import { answer, open, redirectTo, rejection, TOKEN, upstreamPair } from "../../../support/download-upstreams";

// openDownload's refusals: each says in words what a person can do about it, whether to retry, and never
// shows a credential or what an upstream's error page said.

const { source, storage, hfSource, civitaiSource } = upstreamPair();

describe("openDownload: refusals a person can act on", () => {
  it.each([401, 403])("says a Hugging Face %i needs HF_TOKEN and the licence accepted, with the page", async (status) => {
    source.handle = answer(status, "gated");

    const error = await rejection(open(hfSource()));

    expect(error.message).toContain("HF_TOKEN");
    expect(error.message).toContain(`accept the licence at ${source.origin}/org/repo`);
    expect(error.message).not.toContain(TOKEN);
    expect(error.retryable).toBe(false);
  });

  it("says CivitAI needs a login when it answers 401 and no key is set", async () => {
    source.handle = answer(401);

    const error = await rejection(open(civitaiSource(), {}, false));

    expect(error.message).toContain("needs a login");
    expect(error.message).toContain("set CIVITAI_API_KEY");
    expect(error.retryable).toBe(false);
  });

  it("says CivitAI refused the key when it answers 401 to one", async () => {
    source.handle = answer(401);

    const error = await rejection(open(civitaiSource("civKey0123456789"), {}, true));

    expect(error.message).toBe("CivitAI refused CIVITAI_API_KEY (HTTP 401): check that the key is valid");
    expect(error.retryable).toBe(false);
  });

  it("says a CivitAI 403 with a key may be early access", async () => {
    source.handle = answer(403);

    const error = await rejection(open(civitaiSource("civKey0123456789"), {}, true));

    expect(error.message).toBe("CivitAI refused the download (HTTP 403): the version may be in early access");
  });

  it("says a CivitAI 403 without a key may be early access or need the key", async () => {
    source.handle = answer(403);

    const error = await rejection(open(civitaiSource(), {}, false));

    expect(error.message).toContain("early access");
    expect(error.message).toContain("CIVITAI_API_KEY");
  });

  it("retries a 403 from the storage a source redirected to, resolving the source again", async () => {
    source.handle = redirectTo(`${storage.origin}/signed?expires=1`);
    storage.handle = answer(403, "<Error>Request has expired</Error>");

    const error = await rejection(open(civitaiSource("civKey0123456789"), {}, true));

    expect(error.retryable).toBe(true);
    expect(error.reResolve).toBe(true);
    expect(error.message).toContain("expired (HTTP 403)");
  });

  it("does not retry a 404 from the source", async () => {
    source.handle = answer(404, "Entry not found");

    const error = await rejection(open(hfSource()));

    expect(error.message).toBe(`Not found upstream (HTTP 404): ${hfSource().label}`);
    expect(error.retryable).toBe(false);
  });

  it("waits as long as a 429's Retry-After says", async () => {
    source.handle = answer(429, "slow down", { "retry-after": "2" });

    const error = await rejection(open(hfSource()));

    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(2000);
  });

  it.each([500, 503])("retries a %i", async (status) => {
    source.handle = answer(status, "oops");

    const error = await rejection(open(hfSource()));

    expect(error.retryable).toBe(true);
    expect(error.reResolve).toBe(false);
    expect(error.message).toContain(`HTTP ${status} from ${hfSource().label}`);
  });

  it("names a failing CivitAI source by its label, never by the URL with the token", async () => {
    const key = "civKeyNeverInAMessage0123";
    source.handle = answer(500, "down");

    const error = await rejection(open(civitaiSource(key), {}, true));

    expect(error.message).toContain(civitaiSource().label);
    expect(error.message).not.toContain(key);
  });

  it("names failing storage without the query of its signed URL", async () => {
    source.handle = redirectTo(`${storage.origin}/blob?X-Amz-Signature=secretsig`);
    storage.handle = answer(502, "bad gateway");

    const error = await rejection(open(hfSource()));

    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`${storage.origin}/blob`);
    expect(error.message).not.toContain("secretsig");
  });
});

describe("openDownload: what an upstream's error answer may show", () => {
  const SECRET = "internal-admin-token-4f1c";

  it.each([500, 503, 418, 404])("says the status and the host of a %i, never its body", async (status) => {
    source.handle = answer(status, `<html>${SECRET}</html>`);

    const error = await rejection(open(hfSource()));

    expect(error.message).toContain(`HTTP ${status}`);
    expect(error.message).toContain(source.origin);
    expect(error.message).not.toContain(SECRET);
  });

  it("says the status and the host of storage a source redirected to, never its body", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`);
    storage.handle = answer(500, SECRET);

    const error = await rejection(open(hfSource()));

    expect(error.message).toBe(`HTTP 500 from ${storage.origin}/blob: the server failed; try again later`);
  });
});
