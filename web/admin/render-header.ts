import { byId } from "./dom";
import { formatBytes, formatSpeed } from "./format";
import type { StreamState } from "./status-stream";
import type { Listing } from "./types";

/** The header's figures: the sidecar, the disk (models against free space), the speed of all downloads. */
export function renderStats({ stats, version, date }: Listing): void {
  const sidecar = byId("sidecar");
  const running = stats.daemon_running !== false;
  sidecar.textContent = running ? "Sidecar running" : "Sidecar not running: downloads wait for it";
  sidecar.className = `pill ${running ? "pill-ok" : "pill-bad"}`;

  const used = Math.max(0, stats.models_bytes);
  const free = Math.max(0, stats.free_bytes);
  const share = used + free > 0 ? used / (used + free) : 0;
  // CSSOM, not a style attribute: the page's CSP allows no inline style but its own sheet
  byId("disk-models").style.width = `${(share * 100).toFixed(2)}%`;
  byId("disk-bar").setAttribute("aria-label", `Disk: models use ${formatBytes(used)}, ${formatBytes(free)} free`);
  byId("disk-models-text").textContent = `Models ${formatBytes(used)}`;
  byId("disk-free-text").textContent = `Free ${formatBytes(free)}`;
  byId("global-speed").textContent = stats.global_speed > 0 ? `Downloading at ${formatSpeed(stats.global_speed)}` : "";
  byId("catalog-version").textContent = `Catalog version ${version}${date ? ` of ${date}` : ""} · ${stats.present_count} of ${stats.total_count} on disk`;
}

/** The header's word on the status stream, so a person knows whether the bars move by themselves. */
export function renderStreamState(state: StreamState | { state: "off" }): void {
  const pill = byId("live-state");
  const words = {
    off: ["Live progress: off", "pill"],
    connecting: ["Live progress: connecting…", "pill"],
    live: ["Live progress: on", "pill pill-ok"],
    reconnecting: [
      state.state === "reconnecting" ? `Live progress: reconnecting in ${Math.ceil(state.inMs / 1000)} s (${state.reason})` : "",
      "pill pill-warn",
    ],
  } as const;
  const [text, className] = words[state.state];
  pill.textContent = text;
  pill.className = className;
}
