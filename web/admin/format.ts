/** Sizes, speeds and times as a person reads them. Binary units, like the catalog's size_gb figures. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  let text = value.toFixed(value < 100 ? 1 : 0);
  // 1023.97 MiB would read "1024 MiB": say "1.0 GiB" instead
  if (Number(text) >= 1024 && unit < UNITS.length - 1) {
    unit += 1;
    text = (value / 1024).toFixed(1);
  }
  return `${text} ${UNITS[unit]}`;
}

/** A catalog's `size_gb` (GiB, as the shipped catalogs mean it). */
export const formatSizeGb = (sizeGb: number | undefined): string =>
  typeof sizeGb === "number" && Number.isFinite(sizeGb) && sizeGb > 0 ? formatBytes(sizeGb * 1024 ** 3) : "–";

export const formatSpeed = (bytesPerSecond: number): string =>
  bytesPerSecond > 0 && Number.isFinite(bytesPerSecond) ? `${formatBytes(bytesPerSecond)}/s` : "–";

/** Floored, so a download at 99.97% never reads "100%" before it is done. */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent) || percent <= 0) return "0%";
  if (percent >= 100) return "100%";
  return `${(Math.floor(percent * 10) / 10).toFixed(1)}%`;
}

/** Seconds left at the current speed, or undefined when that can't be told. */
export function etaSeconds(bytesDone: number, bytesTotal: number, speed: number): number | undefined {
  if (!(speed > 0) || !(bytesTotal > 0) || bytesDone >= bytesTotal) return undefined;
  return (bytesTotal - bytesDone) / speed;
}

const pad = (n: number): string => String(n).padStart(2, "0");

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** "45.3% · 1.2 GiB of 6.5 GiB · 50.0 MiB/s · 2 min 10 s left": what one download bar says in words. */
export function progressText(download: { bytes_downloaded: number; bytes_total: number; speed: number; percent: number }): string {
  const { bytes_downloaded: done, bytes_total: total, speed } = download;
  const parts = [formatPercent(download.percent), total > 0 ? `${formatBytes(done)} of ${formatBytes(total)}` : formatBytes(done)];
  if (speed > 0) parts.push(formatSpeed(speed));
  const eta = etaSeconds(done, total, speed);
  if (eta !== undefined) parts.push(`${formatDuration(eta)} left`);
  return parts.join(" · ");
}

/** "1 model", "2 models": a count with its noun. */
export const countOf = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`;
