/**
 * What the first answer of a download says of the file: whether the server takes byte ranges, the size,
 * and the validators (ETag, Last-Modified) that tell a resumed partial whether it still matches.
 */
import type { Control } from "./control";
import type { Opened } from "./http";

export interface Probe {
  readonly opened: Opened;
  readonly ranges: boolean;
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  /** How long the first answer took to come, redirects included: a few round trips of the link. */
  readonly firstByteMs: number;
}

export function describeProbe(opened: Opened, firstByteMs = 0): Probe {
  const { res } = opened;
  const header = (name: string) => {
    const value = res.headers[name];
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const total = /^bytes 0-\d+\/(\d+)$/.exec(header("content-range") ?? "")?.[1];
  const length = header("content-length");
  const ranges = res.statusCode === 206 && total !== undefined;
  const size = ranges ? Number(total) : length !== undefined ? Number(length) : opened.linkedSize;
  const etag = header("etag");
  return {
    opened,
    ranges,
    size: size !== undefined && Number.isSafeInteger(size) && size > 0 ? size : undefined,
    // a weak ETag cannot validate a byte range (RFC 9110)
    etag: etag?.startsWith("W/") ? undefined : etag,
    lastModified: header("last-modified"),
    firstByteMs,
  };
}

export function looksLikeHtml(contentType: string | undefined, firstBytes: Buffer): boolean {
  if (contentType !== undefined && /text\/html/i.test(contentType)) return true;
  return /^\s*(<!doctype html|<html)/i.test(firstBytes.subarray(0, 256).toString("latin1"));
}

/** True when the upstream file is not the one the partial was made from. */
export const validatorChanged = (control: Control, probe: Probe): boolean =>
  (control.etag !== undefined && probe.etag !== undefined && control.etag !== probe.etag) ||
  (control.lastModified !== undefined && probe.lastModified !== undefined && control.lastModified !== probe.lastModified);
