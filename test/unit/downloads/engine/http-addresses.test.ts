import { describe, expect, it } from "vitest";
import type { Source } from "../../../../lib/downloads/engine/source";
import type { AddressPolicy } from "../../../../lib/net/address-policy";
import { answer, body, open, redirectTo, rejection, upstreamPair } from "../../../support/download-upstreams";

// The addresses openDownload may reach: private ones only when allowed, or the configured upstream's own.

const { source, storage, hfSource } = upstreamPair();

describe("openDownload: the addresses it may reach", () => {
  // ALLOW_PRIVATE_URLS off; the source's own server is the configured upstream (HF_ENDPOINT, CIVITAI_BASE_URL)
  const checked = (): AddressPolicy => ({ allowPrivate: false, trustedOrigins: [source.origin] });
  const storagePort = () => new URL(storage.origin).port;

  it("refuses a catalog URL at a private address before connecting, naming ALLOW_PRIVATE_URLS", async () => {
    const url = new URL(`${storage.origin}/admin`);
    const plain: Source = { kind: "url", key: `url:${url}`, url, authHeaders: {}, authQuery: {}, label: url.toString(), policy: checked() };

    const error = await rejection(open(plain));

    expect(error.message).toBe(
      `Refused to connect to 127.0.0.1 (loopback) for 127.0.0.1:${storagePort()}: set ALLOW_PRIVATE_URLS=true to allow private addresses`,
    );
    expect(error.retryable).toBe(false);
    expect(storage.seen).toHaveLength(0);
  });

  it("refuses a redirect from the configured upstream to another private origin", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`);
    storage.handle = answer(200, "internal");

    const error = await rejection(open({ ...hfSource(), policy: checked() }));

    expect(error.message).toMatch(/^Refused to connect to 127\.0\.0\.1 \(loopback\) for 127\.0\.0\.1:\d+: set ALLOW_PRIVATE_URLS=true/);
    expect(error.retryable).toBe(false);
    expect(source.seen).toHaveLength(1);
    expect(storage.seen).toHaveLength(0);
  });

  it("refuses a redirect to a name that resolves to a private address", async () => {
    source.handle = redirectTo(`http://localhost:${storagePort()}/blob`);
    storage.handle = answer(200, "internal");

    const error = await rejection(open({ ...hfSource(), policy: checked() }));

    expect(error.message).toMatch(/^Refused to connect to (127\.0\.0\.1|::1) \(loopback\) for localhost: set ALLOW_PRIVATE_URLS=true/);
    expect(storage.seen).toHaveLength(0);
  });

  it("refuses a signed URL kept from an earlier redirect (`via`) at a private address", async () => {
    const error = await rejection(open({ ...hfSource(), policy: checked() }, { via: new URL(`${storage.origin}/signed?x=1`) }));

    expect(error.message).toContain("ALLOW_PRIVATE_URLS");
    expect(storage.seen).toHaveLength(0);
  });

  it("refuses a redirect to another scheme", async () => {
    source.handle = redirectTo("file:///etc/passwd");

    const error = await rejection(open(hfSource()));

    expect(error.message).toBe("Refused to fetch a file: URL (only http and https)");
    expect(error.retryable).toBe(false);
  });

  it("follows redirects within the configured upstream's own origin", async () => {
    source.handle = (req, res) => (req.url === "/moved" ? answer(200, "ok")(req, res) : redirectTo("/moved")(req, res));

    expect(await body(await open({ ...hfSource(), policy: checked() }))).toBe("ok");
  });

  it("reaches another private origin with ALLOW_PRIVATE_URLS", async () => {
    source.handle = redirectTo(`http://localhost:${storagePort()}/blob`);
    storage.handle = answer(200, "mirror");

    expect(await body(await open({ ...hfSource(), policy: { allowPrivate: true, trustedOrigins: [] } }))).toBe("mirror");
  });
});
