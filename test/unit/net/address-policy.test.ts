import http from "node:http";
import type { LookupAddress } from "node:dns";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressPolicy,
  checkDestination,
  PrivateAddressError,
  publicOnlyLookup,
  RefusedDestinationError,
  type AddressPolicy,
  type Resolver,
} from "../../../lib/net/address-policy";
import { send } from "../../../lib/net/request";

const CHECKED: AddressPolicy = { allowPrivate: false, trustedOrigins: ["http://127.0.0.1:9001"] };
const ALLOWED: AddressPolicy = { allowPrivate: true, trustedOrigins: [] };

function refusal(run: () => unknown): RefusedDestinationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RefusedDestinationError);
    return error as RefusedDestinationError;
  }
  throw new Error("expected a refusal");
}

/** A resolver that answers from a table, as a DNS server under someone else's control would. */
const resolverOf =
  (table: Record<string, string[]>): Resolver =>
  (hostname, _options, callback) => {
    const addresses = table[hostname];
    if (addresses === undefined) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
      return;
    }
    callback(null, addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
  };

/** What a lookup answers, as net.connect asks it (all addresses, or the first); the system's resolver by default. */
function lookUp(resolver: Resolver | undefined, hostname: string, all: boolean): Promise<LookupAddress[] | string> {
  const lookup = publicOnlyLookup(resolver);
  return new Promise((resolve, reject) => {
    lookup(hostname, { all }, (error, address) => (error ? reject(error) : resolve(address)));
  });
}

// A local server that must never be reached: it counts what it receives.
let received = 0;
let server: http.Server;
let port: number;
beforeAll(async () => {
  server = http.createServer((_req, res) => {
    received += 1;
    res.writeHead(500).end("the secret of the internal service");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("addressPolicy", () => {
  it("trusts the origins of CIVITAI_BASE_URL and HF_ENDPOINT and takes ALLOW_PRIVATE_URLS as it is", () => {
    const policy = addressPolicy({ allowPrivateUrls: false, civitaiBaseUrl: "http://127.0.0.1:9001", hfEndpoint: "https://hf.local:8443/mirror" });

    expect(policy).toEqual({ allowPrivate: false, trustedOrigins: ["http://127.0.0.1:9001", "https://hf.local:8443"] });
  });
});

describe("checkDestination: addresses in the URL", () => {
  it.each([
    ["http://127.0.0.1:8080/admin", "127.0.0.1", "loopback", "127.0.0.1:8080"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local", "169.254.169.254"],
    ["http://10.0.0.5/x", "10.0.0.5", "private", "10.0.0.5"],
    ["http://[::1]:3000/", "::1", "loopback", "[::1]:3000"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "IPv4-mapped loopback", "[::ffff:7f00:1]"],
    ["http://[fd00::1]/", "fd00::1", "unique-local", "[fd00::1]"],
    ["http://2130706433/", "127.0.0.1", "loopback", "127.0.0.1"],
    ["http://0x7f.1/", "127.0.0.1", "loopback", "127.0.0.1"],
    ["http://0/", "0.0.0.0", "unspecified", "0.0.0.0"],
  ])("refuses %s, naming the address, its range and ALLOW_PRIVATE_URLS", (url, address, range, host) => {
    const error = refusal(() => checkDestination(new URL(url), CHECKED));

    expect(error).toBeInstanceOf(PrivateAddressError);
    expect(error.message).toBe(`Refused to connect to ${address} (${range}) for ${host}: set ALLOW_PRIVATE_URLS=true to allow private addresses`);
  });

  it("allows exactly a configured origin, and not another port of the same host", () => {
    expect(() => checkDestination(new URL("http://127.0.0.1:9001/api/download/models/1"), CHECKED)).not.toThrow();
    expect(() => checkDestination(new URL("http://127.0.0.1:9002/x"), CHECKED)).toThrow(PrivateAddressError);
    expect(() => checkDestination(new URL("https://127.0.0.1:9001/x"), CHECKED)).toThrow(PrivateAddressError);
  });

  it("allows every address with ALLOW_PRIVATE_URLS, and public addresses always", () => {
    expect(() => checkDestination(new URL("http://127.0.0.1:8080/admin"), ALLOWED)).not.toThrow();
    expect(() => checkDestination(new URL("http://8.8.8.8/x"), CHECKED)).not.toThrow();
    expect(() => checkDestination(new URL("http://[2606:4700::1111]/x"), CHECKED)).not.toThrow();
  });

  it("leaves a host name to the lookup", () => {
    expect(() => checkDestination(new URL("http://localhost:8080/admin"), CHECKED)).not.toThrow();
  });

  it.each(["file:///etc/passwd", "ftp://files.example/m.bin", "gopher://127.0.0.1:6379/_INFO"])("refuses %s, even with ALLOW_PRIVATE_URLS", (url) => {
    const error = refusal(() => checkDestination(new URL(url), ALLOWED));

    expect(error.message).toMatch(/^Refused to fetch a [a-z]+: URL \(only http and https\)$/);
  });
});

describe("publicOnlyLookup", () => {
  it("refuses a name that resolves to a private address, naming both", async () => {
    const resolver = resolverOf({ "rebind.example": ["127.0.0.1"] });

    const error = await lookUp(resolver, "rebind.example", true).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PrivateAddressError);
    expect((error as Error).message).toBe(
      "Refused to connect to 127.0.0.1 (loopback) for rebind.example: set ALLOW_PRIVATE_URLS=true to allow private addresses",
    );
  });

  it("passes on only the public addresses of a name that has both", async () => {
    const resolver = resolverOf({ "mixed.example": ["169.254.169.254", "93.184.215.14", "fd00::1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"] });

    expect(await lookUp(resolver, "mixed.example", true)).toEqual([
      { address: "93.184.215.14", family: 4 },
      { address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 },
    ]);
    expect(await lookUp(resolver, "mixed.example", false)).toBe("93.184.215.14");
  });

  it("passes a resolver's own error on as it is", async () => {
    const error = await lookUp(resolverOf({}), "nowhere.example", true).catch((e: unknown) => e);

    expect((error as NodeJS.ErrnoException).code).toBe("ENOTFOUND");
  });

  it("refuses localhost as the system resolves it", async () => {
    const error = await lookUp(undefined, "localhost", true).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PrivateAddressError);
    expect((error as Error).message).toMatch(/^Refused to connect to (127\.0\.0\.1|::1) \(loopback\) for localhost: /);
  });

  it("is what a connection resolves with, so the server hears nothing from a name that leads to it", async () => {
    const before = received;
    const agent = new http.Agent({ lookup: publicOnlyLookup(resolverOf({ "rebind.example": ["127.0.0.1"] })) });

    const error = await new Promise<Error>((resolve) => {
      http.get(`http://rebind.example:${port}/admin`, { agent }, () => resolve(new Error("answered"))).once("error", resolve);
    });

    expect(error).toBeInstanceOf(PrivateAddressError);
    expect(received).toBe(before);
  });
});

describe("send", () => {
  it.each([
    ["an address", () => `http://127.0.0.1:${port}/admin`],
    ["a name", () => `http://localhost:${port}/admin`],
  ])("refuses a private destination given as %s before anything reaches it", async (_what, url) => {
    const before = received;

    const error = await send(new URL(url()), { headers: {}, signal: AbortSignal.timeout(5000), policy: CHECKED }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PrivateAddressError);
    expect(received).toBe(before);
  });

  it("reaches it when the origin is the configured one, or with ALLOW_PRIVATE_URLS", async () => {
    const trusted: AddressPolicy = { allowPrivate: false, trustedOrigins: [`http://127.0.0.1:${port}`] };

    for (const policy of [trusted, ALLOWED]) {
      const res = await send(new URL(`http://127.0.0.1:${port}/admin`), { headers: {}, signal: AbortSignal.timeout(5000), policy });
      res.resume();
      expect(res.statusCode).toBe(500);
    }
  });
});
