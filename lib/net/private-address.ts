/**
 * Which addresses are not the public internet: loopback, private (RFC 1918), link-local (where the cloud's
 * metadata service answers, 169.254.169.254), carrier-grade NAT, unique-local, unspecified, multicast,
 * broadcast and the other special-purpose ranges of IANA's registries. An IPv4 address carried inside an
 * IPv6 one (IPv4-mapped `::ffff:127.0.0.1`, NAT64, 6to4) is judged by the IPv4 address it carries, since
 * that is where the packets end up.
 *
 * A catalog entry is anyone's text: without this check its `url` (or a redirect) would make the sidecar
 * fetch the pod's own services and the cloud's credentials (lib/net/address-policy.ts).
 */
import { isIPv4, isIPv6 } from "node:net";

interface Range<T> {
  readonly base: T;
  readonly bits: number;
  /** What the range is, in the words of an error message. */
  readonly name: string;
}

const v4 = (base: string, bits: number, name: string): Range<number> => ({ base: ipv4Number(base), bits, name });
const v6 = (base: string, bits: number, name: string): Range<bigint> => ({ base: ipv6Number(base), bits, name });

// Most specific first: the first range that holds an address names it.
const V4_RANGES: readonly Range<number>[] = [
  v4("255.255.255.255", 32, "broadcast"),
  v4("0.0.0.0", 8, "unspecified"),
  v4("10.0.0.0", 8, "private"),
  v4("100.64.0.0", 10, "carrier-grade NAT"),
  v4("127.0.0.0", 8, "loopback"),
  v4("169.254.0.0", 16, "link-local"),
  v4("172.16.0.0", 12, "private"),
  v4("192.0.0.0", 24, "IETF protocol assignments"),
  v4("192.0.2.0", 24, "documentation"),
  v4("192.88.99.0", 24, "6to4 relay anycast"),
  v4("192.168.0.0", 16, "private"),
  v4("198.18.0.0", 15, "benchmarking"),
  v4("198.51.100.0", 24, "documentation"),
  v4("203.0.113.0", 24, "documentation"),
  v4("224.0.0.0", 4, "multicast"),
  v4("240.0.0.0", 4, "reserved"),
];

/** IPv6 ranges whose addresses carry an IPv4 address, and where in them it sits (bits from the right). */
const V6_EMBEDDING: readonly (Range<bigint> & { readonly shift: bigint })[] = [
  { ...v6("::ffff:0:0", 96, "IPv4-mapped"), shift: 0n },
  { ...v6("64:ff9b::", 96, "NAT64"), shift: 0n },
  { ...v6("2002::", 16, "6to4"), shift: 80n },
];

const V6_RANGES: readonly Range<bigint>[] = [
  v6("::", 128, "unspecified"),
  v6("::1", 128, "loopback"),
  // the rest of ::/8 is reserved, IPv4-compatible addresses (::a.b.c.d, deprecated) included
  v6("::", 8, "reserved"),
  v6("64:ff9b:1::", 48, "local NAT64"),
  v6("100::", 64, "discard-only"),
  v6("2001::", 32, "Teredo"),
  v6("2001:db8::", 32, "documentation"),
  v6("3fff::", 20, "documentation"),
  v6("fc00::", 7, "unique-local"),
  v6("fe80::", 10, "link-local"),
  v6("fec0::", 10, "site-local"),
  v6("ff00::", 8, "multicast"),
];

function ipv4Number(address: string): number {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/** An IPv6 address as a 128-bit number; the text must be valid (net.isIPv6). */
function ipv6Number(address: string): bigint {
  let text = address.toLowerCase().replace(/%.*$/, "");
  // a dotted IPv4 tail (::ffff:1.2.3.4) is the last two groups
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (tail !== undefined) {
    const v4 = ipv4Number(tail);
    text = `${text.slice(0, -tail.length)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const zeros = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

const inV4 = (value: number, range: Range<number>): boolean =>
  Math.floor(value / 2 ** (32 - range.bits)) === Math.floor(range.base / 2 ** (32 - range.bits));

const inV6 = (value: bigint, range: Range<bigint>): boolean =>
  value >> BigInt(128 - range.bits) === range.base >> BigInt(128 - range.bits);

const v4Range = (value: number): string | undefined => V4_RANGES.find((range) => inV4(value, range))?.name;

/**
 * The special range that `address` (an IP address, as DNS or a URL gives it) lies in, e.g. "loopback" or
 * "IPv4-mapped private"; undefined for an ordinary public address. Anything that is not an IP address
 * counts as special: what cannot be judged is not connected to.
 */
export function specialRange(address: string): string | undefined {
  if (isIPv4(address)) return v4Range(ipv4Number(address));
  if (!isIPv6(address)) return "not an IP address";
  const value = ipv6Number(address);
  for (const embedding of V6_EMBEDDING) {
    if (!inV6(value, embedding)) continue;
    const inner = v4Range(Number((value >> embedding.shift) & 0xffffffffn));
    return inner === undefined ? undefined : `${embedding.name} ${inner}`;
  }
  return V6_RANGES.find((range) => inV6(value, range))?.name;
}
