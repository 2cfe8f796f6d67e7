import { BlockList } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { specialRange } from "../../../lib/net/private-address";

// fast-check with a fixed seed, as the fault suite runs it: FC_SEED=<n> replays another
const SEED = Number(process.env.FC_SEED ?? 12_2026);
const RUNS = { seed: SEED, numRuns: Number(process.env.FC_RUNS ?? 1000) };

// An independent oracle: the ranges the issue names, and the special-purpose ones, in Node's own BlockList.
const refusedV4 = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3], // multicast 224/4 and reserved 240/4, broadcast included
] as const) {
  refusedV4.addSubnet(net, prefix, "ipv4");
}

/** A random address inside `base/prefix`. */
const inSubnet = (base: string, prefix: number) =>
  fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => {
    const start = base.split(".").reduce((value, part) => value * 256 + Number(part), 0);
    const value = start + offset;
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
  });

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, "0");

describe("specialRange: IPv4", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.1.2.3", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.251", "multicast"],
    ["192.0.0.170", "IETF protocol assignments"],
    ["198.18.0.1", "benchmarking"],
    ["240.0.0.1", "reserved"],
  ])("refuses %s as %s", (address, range) => {
    expect(specialRange(address)).toBe(range);
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "169.253.255.255", "223.255.255.255", "104.18.0.1"])(
    "lets the public address %s through",
    (address) => {
      expect(specialRange(address)).toBeUndefined();
    },
  );

  it("refuses exactly the addresses of the special ranges, whatever the address", () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(specialRange(address) !== undefined).toBe(refusedV4.check(address, "ipv4"));
      }),
      RUNS,
    );
  });

  it.each([
    ["10.0.0.0", 8, "private"],
    ["172.16.0.0", 12, "private"],
    ["192.168.0.0", 16, "private"],
    ["127.0.0.0", 8, "loopback"],
    ["169.254.0.0", 16, "link-local"],
    ["100.64.0.0", 10, "carrier-grade NAT"],
  ] as const)("refuses every address of %s/%i as %s", (base, prefix, range) => {
    fc.assert(
      fc.property(inSubnet(base, prefix), (address) => {
        expect(specialRange(address)).toBe(range);
      }),
      RUNS,
    );
  });
});

describe("specialRange: IPv6", () => {
  it.each([
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["fd12:3456::1", "unique-local"],
    ["fc00::1", "unique-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["fec0::1", "site-local"],
    ["2001:db8::1", "documentation"],
    ["::127.0.0.1", "reserved"],
  ])("refuses %s as %s", (address, range) => {
    expect(specialRange(address)).toBe(range);
  });

  it.each([
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:7f00:1", "IPv4-mapped loopback"],
    ["::FFFF:169.254.169.254", "IPv4-mapped link-local"],
    ["::ffff:a00:1", "IPv4-mapped private"],
    ["64:ff9b::a9fe:a9fe", "NAT64 link-local"],
    ["2002:7f00:1::1", "6to4 loopback"],
  ])("judges %s by the IPv4 address it carries: %s", (address, range) => {
    expect(specialRange(address)).toBe(range);
  });

  it.each(["2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])(
    "lets the public address %s through",
    (address) => {
      expect(specialRange(address)).toBeUndefined();
    },
  );

  it("judges an IPv4-mapped address as its IPv4 address, in either notation", () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
        const expected = specialRange(address);
        const named = expected === undefined ? undefined : `IPv4-mapped ${expected}`;
        expect(specialRange(`::ffff:${address}`)).toBe(named);
        expect(specialRange(`::ffff:${hex(a * 256 + b, 1)}:${hex(c * 256 + d, 1)}`)).toBe(named);
      }),
      RUNS,
    );
  });

  it("refuses every unique-local (fc00::/7) and link-local (fe80::/10) address", () => {
    const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 });
    fc.assert(
      fc.property(fc.integer({ min: 0xfc00, max: 0xfdff }), groups, (first, rest) => {
        expect(specialRange([first, ...rest].map((g) => hex(g, 1)).join(":"))).toBe("unique-local");
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.integer({ min: 0xfe80, max: 0xfebf }), groups, (first, rest) => {
        expect(specialRange([first, ...rest].map((g) => hex(g, 1)).join(":"))).toBe("link-local");
      }),
      RUNS,
    );
  });
});

describe("specialRange: not an address", () => {
  it.each(["localhost", "example.com", "", "127.1", "0x7f000001", "1.2.3.4.5"])("refuses %j: what cannot be judged is not connected to", (text) => {
    expect(specialRange(text)).toBe("not an IP address");
  });
});
