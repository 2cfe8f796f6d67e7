import dns, { type LookupAddress, type LookupAllOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import type { Config } from "../config";
import { specialRange } from "./private-address";

/**
 * Where the sidecar may connect when it downloads a model or fetches its metadata. A catalog's `url`, and
 * every redirect any upstream answers, may lead anywhere: to the pod's own services or the cloud's metadata
 * service (169.254.169.254), whose answers would then show in the status file. So outside the operator's
 * own upstreams, only public addresses are connected to, unless ALLOW_PRIVATE_URLS says otherwise.
 *
 * The check is made on the address actually connected to: the lookup below filters what DNS answers, so a
 * name that resolves to a public address when checked and to 127.0.0.1 when connecting (DNS rebinding)
 * gains nothing. An IP address in the URL is never looked up, so it is checked before connecting.
 */
export interface AddressPolicy {
  /** ALLOW_PRIVATE_URLS: every address may be reached. */
  readonly allowPrivate: boolean;
  /** The origins of CIVITAI_BASE_URL and HF_ENDPOINT: the operator's choice, reached wherever they are. */
  readonly trustedOrigins: readonly string[];
}

export function addressPolicy(config: Pick<Config, "allowPrivateUrls" | "civitaiBaseUrl" | "hfEndpoint">): AddressPolicy {
  const trustedOrigins = [config.civitaiBaseUrl, config.hfEndpoint].map((base) => new URL(base).origin);
  return Object.freeze({ allowPrivate: config.allowPrivateUrls, trustedOrigins: Object.freeze(trustedOrigins) });
}

/** Whether a request to `url` may go to any address: private ones allowed, or exactly a configured origin. */
export const mayReachAnyAddress = (url: URL, policy: AddressPolicy): boolean =>
  policy.allowPrivate || policy.trustedOrigins.includes(url.origin);

/** A destination the sidecar will not connect to; the message says why and what to do. */
export class RefusedDestinationError extends Error {
  readonly code = "ERR_REFUSED_DESTINATION";
}

export class PrivateAddressError extends RefusedDestinationError {
  constructor(address: string, range: string, host: string) {
    super(`Refused to connect to ${address} (${range}) for ${host}: set ALLOW_PRIVATE_URLS=true to allow private addresses`);
    this.name = "PrivateAddressError";
  }
}

/**
 * Refuses what can be refused before a connection: a scheme other than http(s) (a redirect may name any),
 * and an IP address in the URL that lies in a special range (`lookup` is not called for those).
 */
export function checkDestination(url: URL, policy: AddressPolicy): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RefusedDestinationError(`Refused to fetch a ${url.protocol} URL (only http and https)`);
  }
  if (mayReachAnyAddress(url, policy)) return;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host) === 0) return;
  const range = specialRange(host);
  if (range !== undefined) throw new PrivateAddressError(host, range, url.host);
}

/** dns.lookup's shape, asked for every address: what the filtering lookup resolves names with. */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for net/http/https that passes on only public addresses of what `resolve` answers; when none
 * is left, the connection fails with a PrivateAddressError naming the first address refused.
 */
export function publicOnlyLookup(resolve: Resolver = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, "");
        return;
      }
      const allowed = addresses.filter((entry) => specialRange(entry.address) === undefined);
      const first = allowed[0];
      if (first === undefined) {
        const refused = addresses[0];
        const failure = refused
          ? new PrivateAddressError(refused.address, specialRange(refused.address) ?? "", hostname)
          : Object.assign(new Error(`No address found for ${hostname}`), { code: "ENOTFOUND" });
        callback(failure, "");
        return;
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}
