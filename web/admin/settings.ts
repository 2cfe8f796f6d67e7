/**
 * The download settings as the page shows and reads them, without the DOM: the bandwidth cap in MB/s
 * (1 MB = 1,000,000 bytes; empty means none), the counts, and the live speed against the cap.
 */
import type { DownloadSettings } from "./types";

const MB = 1_000_000;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** A speed in MB/s, with as many decimals as a changing figure needs to read steadily. */
export function formatMb(bytesPerSecond: number): string {
  const mb = Math.max(0, Number.isFinite(bytesPerSecond) ? bytesPerSecond : 0) / MB;
  return mb >= 100 ? mb.toFixed(0) : mb >= 1 ? mb.toFixed(1) : mb.toFixed(2);
}

/** A cap in MB/s as the field shows it: no trailing zeros ("20", "0.5", "0.066"). */
export function capText(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null) return "";
  return String(Number((bytesPerSecond / MB).toFixed(3)));
}

/** "12.3 of 20 MB/s" against a cap; "12.3 MB/s, no cap" without one. */
export function speedAgainstCap(speed: number, cap: number | null | undefined): string {
  return typeof cap === "number" && cap > 0 ? `${formatMb(speed)} of ${capText(cap)} MB/s` : `${formatMb(speed)} MB/s, no cap`;
}

/**
 * The cap field: empty is no cap; a number of MB/s becomes bytes per second. The API judges the range
 * (and says the minimum); only what is not a number is refused here. `shown` is the cap as last filled
 * in: a field left as it was sends that exact value, not its rounded MB/s.
 */
export function parseCap(text: string, shown?: { readonly text: string; readonly bytes: number | null }): Parsed<number | null> {
  const trimmed = text.trim().replace(",", ".");
  if (shown !== undefined && trimmed === shown.text) return { ok: true, value: shown.bytes };
  if (trimmed === "") return { ok: true, value: null };
  const mb = Number(trimmed);
  if (!/^\d*\.?\d+$|^\d+\.$/.test(trimmed) || !Number.isFinite(mb)) return { ok: false, problem: `The cap “${text.trim()}” is not a number of MB/s: give one like 20 or 2.5, or leave it empty for no cap` };
  return { ok: true, value: Math.round(mb * MB) };
}

/** A count field (downloads at once, connections per file): a whole number; the API says the range. */
export function parseCount(text: string, what: string): Parsed<number> {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { ok: false, problem: `${what} must be a whole number` };
  return { ok: true, value: Number(trimmed) };
}

/** The PUT body from the three fields, or the first problem with them. */
export function settingsBody(
  fields: { readonly cap: string; readonly concurrent: string; readonly connections: string },
  shownCap?: { readonly text: string; readonly bytes: number | null },
): Parsed<DownloadSettings> {
  const cap = parseCap(fields.cap, shownCap);
  if (!cap.ok) return cap;
  const concurrent = parseCount(fields.concurrent, "Downloads at once");
  if (!concurrent.ok) return concurrent;
  const connections = parseCount(fields.connections, "Connections per file");
  if (!connections.ok) return connections;
  return { ok: true, value: { max_bytes_per_second: cap.value, max_concurrent: concurrent.value, connections_per_file: connections.value } };
}
