import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DownloadError } from "../../../../lib/downloads/engine/errors";
import { openDownload, USER_AGENT, type OpenOptions, type Opened } from "../../../../lib/downloads/engine/http";
import { Secret } from "../../../../lib/secret";
import type { Source } from "../../../../lib/downloads/engine/source";
import type { AddressPolicy } from "../../../../lib/net/address-policy";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Seen {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

/** A local server standing in for an upstream; each test sets what it answers and reads what it was sent. */
interface Upstream {
  origin: string;
  handle: Handler;
  seen: Seen[];
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const upstream: Upstream = {
    origin: "",
    handle: (_req, res) => res.writeHead(500).end(),
    seen: [],
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    upstream.seen.push({ path: req.url ?? "", headers: req.headers });
    upstream.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  upstream.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      // openDownload keeps connections alive; they would hold the server open
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return upstream;
}

const TOKEN = "hf_httpUnitTestToken0123456789";
// these upstreams all live on 127.0.0.1: every test but those of the address policy allows private addresses
const ANY_ADDRESS: AddressPolicy = { allowPrivate: true, trustedOrigins: [] };
const SHA = "AB".repeat(32);
const signal = new AbortController().signal;

// Two servers: the source (Hugging Face / CivitAI) and the storage it redirects to, on another origin.
let source: Upstream;
let storage: Upstream;

beforeAll(async () => {
  [source, storage] = await Promise.all([startUpstream(), startUpstream()]);
});
afterAll(async () => {
  await Promise.all([source.close(), storage.close()]);
});
beforeEach(() => {
  for (const upstream of [source, storage]) {
    upstream.seen = [];
    upstream.handle = (_req, res) => res.writeHead(500).end();
  }
});

const hfSource = (): Source => {
  const url = new URL(`${source.origin}/org/repo/resolve/main/model.safetensors`);
  return {
    kind: "huggingface",
    key: "hf:org/repo@main/model.safetensors",
    url,
    authHeaders: { authorization: new Secret(`Bearer ${TOKEN}`) },
    authQuery: {},
    label: url.toString(),
    page: `${source.origin}/org/repo`,
    policy: ANY_ADDRESS,
  };
};

const civitaiSource = (token?: string): Source => {
  const url = new URL(`${source.origin}/api/download/models/123`);
  const authQuery = token === undefined ? {} : { token: new Secret(token) };
  return { kind: "civitai", key: "civitai:123", url, authHeaders: {}, authQuery, label: url.toString(), policy: ANY_ADDRESS };
};

const open = (from: Source, options: Partial<OpenOptions> = {}, hasCivitaiKey = false): Promise<Opened> =>
  openDownload(from, { signal, ...options }, hasCivitaiKey);

async function rejection(promise: Promise<unknown>): Promise<DownloadError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DownloadError);
    return error as DownloadError;
  }
  throw new Error("expected a DownloadError");
}

async function body(opened: Opened): Promise<string> {
  let text = "";
  for await (const chunk of opened.res) text += String(chunk);
  return text;
}

const redirectTo = (location: string, headers: Record<string, string> = {}): Handler => (_req, res) =>
  res.writeHead(302, { location, ...headers }).end();
const answer = (status: number, text = "", headers: Record<string, string> = {}): Handler => (_req, res) =>
  res.writeHead(status, { "content-type": "text/plain", ...headers }).end(text);

describe("openDownload: credentials and redirects", () => {
  it("sends the source's credentials to its own origin and not to the storage it redirects to", async () => {
    source.handle = redirectTo(`${storage.origin}/blob/abc?signature=xyz`);
    storage.handle = answer(200, "model bytes");

    const opened = await open(hfSource());

    expect(await body(opened)).toBe("model bytes");
    expect(opened.url.toString()).toBe(`${storage.origin}/blob/abc?signature=xyz`);
    expect(source.seen[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(storage.seen).toHaveLength(1);
    expect(storage.seen[0]?.path).toBe("/blob/abc?signature=xyz");
    expect(storage.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("keeps the credentials on a redirect within the source's origin", async () => {
    source.handle = (req, res) =>
      req.url === "/moved" ? answer(200, "ok")(req, res) : redirectTo("/moved")(req, res);

    await body(await open(hfSource()));

    expect(source.seen.map((seen) => [seen.path, seen.headers.authorization])).toEqual([
      ["/org/repo/resolve/main/model.safetensors", `Bearer ${TOKEN}`],
      ["/moved", `Bearer ${TOKEN}`],
    ]);
  });

  it("starts at `via` when given, without credentials for its other origin", async () => {
    storage.handle = answer(200, "signed");

    const opened = await open(hfSource(), { via: new URL(`${storage.origin}/signed?x=1`) });

    expect(await body(opened)).toBe("signed");
    expect(source.seen).toHaveLength(0);
    expect(storage.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("returns X-Linked-Size and X-Linked-Etag of the redirect, the SHA256 lowercased", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`, { "x-linked-size": "12345", "x-linked-etag": `"${SHA}"` });
    storage.handle = answer(200, "x");

    const opened = await open(hfSource());
    await body(opened);

    expect(opened.linkedSize).toBe(12345);
    expect(opened.linkedSha256).toBe(SHA.toLowerCase());
  });

  it("returns no linked size or SHA256 when the upstream sends none (or an etag that is no SHA256)", async () => {
    source.handle = answer(200, "x", { "x-linked-etag": '"not-a-sha"' });

    const opened = await open(hfSource());
    await body(opened);

    expect(opened.linkedSize).toBeUndefined();
    expect(opened.linkedSha256).toBeUndefined();
  });

  it("fails after too many redirects", async () => {
    let hop = 0;
    source.handle = (_req, res) => res.writeHead(302, { location: `/loop/${++hop}` }).end();

    const error = await rejection(open(hfSource()));

    expect(error.message).toBe(`Too many redirects from ${hfSource().label}`);
    expect(error.retryable).toBe(false);
    expect(source.seen).toHaveLength(11);
  });

  it("names comfyui-models-admin in the User-Agent of every request", async () => {
    source.handle = redirectTo(`${storage.origin}/blob`);
    storage.handle = answer(200, "x");

    await body(await open(hfSource()));

    expect(USER_AGENT).toMatch(/^comfyui-models-admin\//);
    expect(source.seen[0]?.headers["user-agent"]).toBe(USER_AGENT);
    expect(storage.seen[0]?.headers["user-agent"]).toBe(USER_AGENT);
  });
});

describe("openDownload: ranges", () => {
  it("sends Range bytes=a-b and If-Range when asked, and returns a 206 as it is", async () => {
    storage.handle = answer(206, "0123456789", { "content-range": "bytes 10-19/100" });
    source.handle = redirectTo(`${storage.origin}/blob`);

    const opened = await open(hfSource(), { range: { start: 10, end: 19 }, ifRange: '"v1"' });

    expect(opened.res.statusCode).toBe(206);
    expect(await body(opened)).toBe("0123456789");
    for (const seen of [source.seen[0], storage.seen[0]]) {
      expect(seen?.headers.range).toBe("bytes=10-19");
      expect(seen?.headers["if-range"]).toBe('"v1"');
    }
  });

  it("asks for the rest of the file with an open range", async () => {
    source.handle = answer(206, "tail");

    await body(await open(hfSource(), { range: { start: 5 } }));

    expect(source.seen[0]?.headers.range).toBe("bytes=5-");
    expect(source.seen[0]?.headers["if-range"]).toBeUndefined();
  });

  it("returns a 200 as it is (the caller decides that a range was ignored)", async () => {
    source.handle = answer(200, "whole file");

    const opened = await open(hfSource(), { range: { start: 5 }, ifRange: '"v1"' });

    expect(opened.res.statusCode).toBe(200);
    expect(await body(opened)).toBe("whole file");
  });

  it("sends neither Range nor If-Range without a range", async () => {
    source.handle = answer(200, "x");

    await body(await open(hfSource(), { ifRange: '"v1"' }));

    expect(source.seen[0]?.headers.range).toBeUndefined();
    expect(source.seen[0]?.headers["if-range"]).toBeUndefined();
  });
});

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

describe("openDownload: kept-alive connections", () => {
  it("sends a request again at once when the server had closed the idle connection it was sent on", async () => {
    // resets every connection at its first request after an idle pause, as a server closing it then does
    const answeredAt = new WeakMap<Socket, number>();
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": "2" }).end("ok", () => answeredAt.set(req.socket, Date.now()));
    });
    server.on("connection", (socket: Socket) =>
      socket.prependListener("data", () => {
        const at = answeredAt.get(socket);
        if (at !== undefined && Date.now() - at > 50) socket.destroy();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/model.safetensors`);
    const plain: Source = { kind: "url", key: `url:${url}`, url, authHeaders: {}, authQuery: {}, label: url.toString(), policy: ANY_ADDRESS };

    try {
      const bodies = [];
      for (let i = 0; i < 3; i++) {
        bodies.push(await body(await open(plain)));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }

      expect(bodies).toEqual(["ok", "ok", "ok"]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
