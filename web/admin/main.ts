/**
 * The admin page: the catalog with live progress and every action of the API. The listing is fetched
 * on load, after each action and every 15 s; the status stream moves the bars in between.
 */
import { run, catalogActions, downloadActions } from "./actions";
import { AddBox } from "./add-model";
import { Api } from "./api";
import { apiBase } from "./base";
import { byId } from "./dom";
import { countOf, formatSpeed } from "./format";
import { filterCatalog, isFiltered } from "./filter";
import { askForKey } from "./key-dialog";
import { forgetKey, loadKey, saveKey } from "./key-store";
import { CatalogView } from "./render-catalog";
import { renderStats, renderStreamState } from "./render-header";
import { announce, notices } from "./notices";
import { SettingsPanel } from "./settings-panel";
import { canDownload, isActive, shownState, staleFiles } from "./shown";
import { followStatus } from "./status-stream";
import { Toolbar } from "./toolbar";
import { followMetadata, followUpdates, onClick, wireToolsPanel, wireVolumeTools } from "./tools-panel";
import type { Listing, LiveDownload, Model } from "./types";
import { UnlistedPanel } from "./unlisted-panel";
import { VerifyPanel } from "./verify-panel";

// The listing is asked for every 15 s while the live progress is on, and every 5 s while it is not: then the
// listing is the only news of the downloads.
const LISTING_EVERY_MS = 15_000;
const LISTING_WITHOUT_STREAM_MS = 5_000;

const state = {
  listing: undefined as Listing | undefined,
  listingText: "",
  live: {} as Readonly<Record<string, LiveDownload>>,
  selected: new Set<string>(),
  /** Aborts everything that runs with the current key: the stream, the polls. */
  session: new AbortController(),
  prompting: false,
  lastRefresh: 0,
};

// A late 401 to a key already replaced (a slow call made before the new key came) says nothing of the new one.
const onUnauthorized = (detail: string, key: string | undefined) => {
  if (key === loadKey()) void requireKey(`The service refused the key: ${detail}`);
};
const api = new Api({ base: apiBase(location.pathname), key: loadKey, onUnauthorized });
const context = { api, refresh: () => refreshListing() };
const downloads = downloadActions(context);
const tools = catalogActions(context);
const toolbar = new Toolbar(() => renderCatalog());
const view = new CatalogView(byId("catalog"), {
  download: (model) => void run(() => downloads.download(model)),
  cancel: (model) => void run(() => downloads.cancel(model)),
  pause: (model) => void run(() => downloads.pause(model)),
  resume: (model) => void run(() => downloads.resume(model)),
  move: (model, position) => void run(() => downloads.move(model, position)),
  deleteFile: (model) => void run(() => downloads.deleteFile(model)),
  remove: (model) => void run(() => downloads.remove(model)),
  select: (files, selected) => {
    for (const file of files) {
      if (selected) state.selected.add(file);
      else state.selected.delete(file);
    }
    renderSelection();
  },
  changed: (model, now, before) => {
    if (now.status === "error" && before.status !== "error") notices.error(`${model.name}: ${now.error ?? "the download failed"}`);
    else if (now.status === "present" && isActive(before.status)) announce(`${model.name} is downloaded`);
  },
});

const addBox = new AddBox({
  api,
  refresh: () => refreshListing(),
  reveal: (file) => view.reveal(file),
  categoryName: (id) => state.listing?.categories.find((category) => category.id === id)?.name ?? id,
});
const volume = { api, signal: () => state.session.signal, refreshListing: () => refreshListing() };
const unlisted = new UnlistedPanel(volume);
const verify = new VerifyPanel(volume);
const settings = new SettingsPanel(api);

const allModels = (): Model[] => state.listing?.categories.flatMap((category) => category.models) ?? [];
const statusOf = (model: Model) => shownState(model, state.live[model.file]).status;

function renderCatalog(): void {
  const listing = state.listing;
  if (!listing) return;
  const filters = toolbar.filters;
  const shown = filterCatalog(listing.categories, filters, statusOf);
  // only what can still be downloaded stays selected
  const downloadable = new Set(allModels().filter((model) => canDownload(statusOf(model))).map((model) => model.file));
  for (const file of state.selected) if (!downloadable.has(file)) state.selected.delete(file);
  const empty = isFiltered(filters) ? "No model matches these filters." : "The catalog is empty: import a JSON file to add models.";
  view.render(shown, state.live, state.selected, empty);
  const count = shown.reduce((sum, category) => sum + category.models.length, 0);
  byId("catalog-count").textContent = isFiltered(filters) ? `${count} of ${countOf(listing.stats.total_count, "model")} match` : countOf(listing.stats.total_count, "model");
  renderSelection();
}

function renderSelection(): void {
  const { size } = state.selected;
  const button = byId<HTMLButtonElement>("download-selected");
  button.textContent = size > 0 ? `Download selected (${size})` : "Download selected";
  button.disabled = size === 0;
  byId<HTMLButtonElement>("clear-selection").disabled = size === 0;
}

async function refreshListing(): Promise<void> {
  state.lastRefresh = Date.now();
  const listing = await api.call<Listing>("GET", "api/admin/models");
  state.listing = listing;
  renderStats(listing);
  settings.setCap(listing.stats.max_bytes_per_second);
  // the stream's sum is newer while it runs; the listing's speaks when there is no stream
  if (Object.keys(state.live).length === 0) settings.setSpeed(listing.stats.global_speed);
  // a poll that finds nothing new leaves the tables (and the focus, the scroll) alone
  const text = JSON.stringify(listing.categories);
  if (text === state.listingText) return;
  state.listingText = text;
  toolbar.setOptions(listing.categories);
  addBox.setCatalog(listing.categories);
  renderCatalog();
}

function onStatusEvent(downloadsNow: Readonly<Record<string, LiveDownload>>): void {
  state.live = downloadsNow;
  view.update(downloadsNow);
  const speed = Object.values(downloadsNow).reduce((sum, entry) => sum + (entry.status === "downloading" ? entry.speed : 0), 0);
  byId("global-speed").textContent = speed > 0 ? `Downloading at ${formatSpeed(speed)}` : "";
  settings.setSpeed(speed);
  // a download that ended changed the disk: the listing knows its size and the free space
  if (staleFiles(allModels(), downloadsNow).length > 0 && Date.now() - state.lastRefresh > 1_000) void run(() => refreshListing());
}

/** Everything that runs with a key: the first loads, the stream, the listing's poll. */
function startSession(): void {
  state.session.abort();
  const session = new AbortController();
  state.session = session;
  const { signal } = session;
  void run(() => refreshListing());
  void run(() => followMetadata(api, signal));
  void run(async () => void (await followUpdates(api, signal)));
  void run(() => unlisted.resume());
  void run(() => verify.resume());
  void run(() => settings.load());
  let live = false;
  let polledAt = Date.now();
  const onState: typeof renderStreamState = (stream) => {
    live = stream.state === "live";
    renderStreamState(stream);
  };
  void followStatus(api, { onEvent: (event) => onStatusEvent(event.downloads), onState }, signal);
  const poll = window.setInterval(() => {
    // a timer's tick comes a little early or late: 100 ms of slack keeps it from skipping a whole turn
    if (document.hidden || Date.now() - polledAt < (live ? LISTING_EVERY_MS : LISTING_WITHOUT_STREAM_MS) - 100) return;
    polledAt = Date.now();
    void run(() => refreshListing());
  }, LISTING_WITHOUT_STREAM_MS);
  signal.addEventListener("abort", () => clearInterval(poll));
}

/** No key, or a refused one: stop what runs with it and ask. Changing a working key stops nothing until a new one is given. */
async function requireKey(reason?: string): Promise<void> {
  if (state.prompting) return;
  state.prompting = true;
  if (reason !== undefined) {
    state.session.abort();
    forgetKey();
    renderStreamState({ state: "off" });
  }
  const key = await askForKey(reason);
  state.prompting = false;
  if (key !== undefined) {
    saveKey(key);
    startSession();
  } else if (loadKey() === undefined) {
    state.session.abort();
    byId("catalog").replaceChildren(document.createTextNode("The catalog needs the API key: use “API key…” at the top."));
  }
}

function wireSelection(): void {
  onClick(
    "download-selected",
    async () => {
      await downloads.downloadSelected([...state.selected]);
      state.selected.clear();
    },
    () => renderCatalog(),
  );
  byId("clear-selection").addEventListener("click", () => {
    state.selected.clear();
    renderCatalog();
  });
}

/** Pause all, Resume all, and the settings form. */
function wireQueue(): void {
  onClick("pause-all", () => downloads.pauseAll());
  onClick("resume-all", () => downloads.resumeAll());
  const save = byId<HTMLButtonElement>("settings-save");
  byId("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!save.disabled) void run(() => settings.save(), save);
  });
}

wireToolsPanel({ api, tools, signal: () => state.session.signal, refreshListing });
wireVolumeTools({ addBox, unlisted, verify });
wireSelection();
wireQueue();
byId("change-key").addEventListener("click", () => void requireKey());
if (loadKey() === undefined) void requireKey();
else startSession();
