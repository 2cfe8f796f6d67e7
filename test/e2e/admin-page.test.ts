/**
 * The admin page in Chromium against the real stack (npm start) and its upstream stand-in: what a person
 * sees and does. Each test opens the page afresh; the models each one touches are its own.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { catalog, writeCatalog, type TestModel } from "../support/catalogs";
import { createCatalogRemote, publish } from "../support/upstream/git";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { tempDirs } from "../support/stack";
import { queueTests } from "./admin-page-queue";
import { volumeToolsTests } from "./admin-page-volume";
import { closeAfterwards, eventually, openPage, seedModels, text, type AdminPageModels, type OpenOptions } from "./admin-page-kit";
import { chromiumAvailable, launchChromium, PHONE, screenshot, type Browser, type PageGlobals } from "./browser";

describe.skipIf(!chromiumAvailable())("the admin page in a browser", () => {
  let stack: OwnStack;
  let browser: Browser;
  let m: AdminPageModels;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    stack = await startOwnStack();
    m = await seedModels(stack);
    browser = await launchChromium();
  });

  closeAfterwards(() => ({ page, browser, stack }), problems);

  const open = async (options: OpenOptions = {}): Promise<Page> => (page = await openPage(browser, stack, problems, options));

  const row = (file: string) => page.locator(`tr[data-file="${file}"]`);
  const status = (file: string) => row(file).locator(".badge");
  const visibleFiles = () => page.locator("tr[data-file]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-file")));
  const notice = (pattern: RegExp) => page.locator(".notice-text").filter({ hasText: pattern });

  it("asks for the key, asks again when the service refuses it, and keeps a good one", async () => {
    await open({ key: null });
    const keyBox = page.getByRole("textbox", { name: "API key" });
    await keyBox.waitFor();

    await keyBox.fill("not-the-key");
    await page.getByRole("button", { name: "Use this key" }).click();

    await page.getByText("The service refused the key: Invalid or missing API key").waitFor();
    await screenshot(page, "key-refused");
    await keyBox.fill(stack.apiKey);
    await page.getByRole("button", { name: "Use this key" }).click();
    await page.getByRole("heading", { name: /^Checkpoints/ }).waitFor();
    expect(await page.getByRole("dialog").isVisible()).toBe(false);
    await page.reload();
    await page.getByRole("heading", { name: /^LoRAs/ }).waitFor();
    expect(await page.getByRole("dialog").isVisible()).toBe(false);
  });

  it("shows the catalog by category with sizes, tags, status, the disk bar and the sidecar", async () => {
    await open();

    expect(await page.locator(".category > h3").allTextContents()).toEqual(["Checkpoints 0 of 2 on disk", "LoRAs 0 of 5 on disk", "VAE 1 of 4 on disk"]);
    const present = row(m.present.file);
    expect(await present.locator(".model-name").textContent()).toBe("Present VAE");
    expect(await present.locator("td[data-label='On disk']").textContent()).toBe("3.0 MiB");
    expect(await present.locator("td[data-label='Base model']").textContent()).toBe("SDXL 1.0");
    expect(await status(m.present.file).textContent()).toBe("On disk");
    expect(await row(m.long.file).locator("td[data-label='Size']").textContent()).toBe("64.0 MiB");
    expect(await row(m.slow.file).locator(".tags li").allTextContents()).toEqual(["sdxl", "base"]);
    await eventually(text(page.locator("#sidecar"))).toBe("Sidecar running");
    await eventually(text(page.locator("#live-state"))).toBe("Live progress: on");
    expect(await page.locator("#disk-models-text").textContent()).toBe("Models 3.0 MiB");
    expect(await page.locator("#disk-free-text").textContent()).toMatch(/^Free \d/);
    // the hostile name is shown as the text it is
    expect(await row(m.hostile.file).locator(".model-name").textContent()).toBe('<img src=x onerror="window.pwned=1"> Hostile');
    expect(await page.locator("#catalog img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).pwned)).toBeUndefined();
    await screenshot(page, "laptop-catalog");
  });

  it("narrows the catalog by search, status, category and tag", async () => {
    await open();

    await page.getByRole("searchbox", { name: "Search" }).fill("batch style");
    await eventually(visibleFiles).toEqual([m.batchA.file, m.batchB.file]);
    await page.getByRole("searchbox", { name: "Search" }).fill("");
    await page.getByLabel("Status").selectOption({ label: "On disk" });
    await eventually(visibleFiles).toEqual([m.present.file]);
    await page.getByLabel("Status").selectOption({ label: "All" });
    await page.getByRole("search").getByLabel("Category").selectOption({ label: "Checkpoints" });
    await eventually(visibleFiles).toEqual([m.slow.file, m.long.file]);
    await page.getByLabel("Tag").selectOption("detail");
    await page.getByText("No model matches these filters.").waitFor();
    await page.getByRole("search").getByLabel("Category").selectOption({ label: "All" });
    await eventually(visibleFiles).toEqual([m.hf.file, m.gone.file]);
    expect(await page.locator("#catalog-count").textContent()).toBe("2 of 11 models match");

    await page.getByRole("button", { name: "Clear filters" }).click();
    await eventually(async () => (await visibleFiles()).length).toBe(11);
  });

  it("shows a download's bar, speed and time left as it moves to 100%, then the file on disk", async () => {
    await open();

    await row(m.slow.file).getByRole("button", { name: `Download ${m.slow.name}` }).click();

    const bar = row(m.slow.file).locator("progress");
    const percent = () => bar.evaluate((element) => (element as unknown as { value: number }).value).catch(() => -1);
    await eventually(percent, 20_000).toBeGreaterThan(0);
    const seen = await percent();
    expect(seen).toBeLessThan(100);
    await eventually(text(row(m.slow.file).locator(".progress-text"))).toMatch(/^\d+\.\d% · [\d.]+ (KiB|MiB) of 2\.0 MiB · [\d.]+ (KiB|MiB)\/s · \d+ s left$/);
    await screenshot(page, "laptop-downloading");
    await eventually(percent, 20_000).toBe(100);
    await eventually(text(status(m.slow.file)), 10_000).toBe("On disk");
    await eventually(text(row(m.slow.file).locator("td[data-label='On disk']"))).toBe("2.0 MiB");
    expect(await row(m.slow.file).locator(".progress-text").textContent()).toBe("Downloaded · 2.0 MiB");
  });

  it("says in words why a download failed, in its row and in a message", async () => {
    await open();

    await row(m.html.file).getByRole("button", { name: `Download ${m.html.name}` }).click();

    await eventually(text(status(m.html.file)), 20_000).toBe("Failed");
    expect(await row(m.html.file).locator(".row-error").textContent()).toMatch(/^Got an HTML page instead of the model from .* \(a login or error page\?\)$/);
    await page.locator(".notice-error .notice-text").filter({ hasText: /^Behind a login: Got an HTML page/ }).waitFor();
    expect(await row(m.html.file).getByRole("button", { name: `Retry ${m.html.name}` }).isEnabled()).toBe(true);
  });

  it("tells of a failure that the listing brought before the stream did", async () => {
    // no live progress at all: only the listing, polled every 5 s then, can bring the news (within two polls)
    await open({ prepare: (p) => p.route("**/api/admin/models/status*", (route) => route.abort()) });

    await row(m.html2.file).getByRole("button", { name: `Download ${m.html2.name}` }).click();

    await eventually(text(status(m.html2.file)), 12_000).toBe("Failed");
    await page.locator(".notice-error .notice-text").filter({ hasText: /^Also behind a login: Got an HTML page/ }).waitFor({ timeout: 1_000 });
  });

  it("downloads several selected models at once", async () => {
    await open();

    await page.getByRole("checkbox", { name: `Select ${m.batchA.name}` }).check();
    await page.getByRole("checkbox", { name: `Select ${m.batchB.name}` }).check();
    await page.getByRole("button", { name: "Download selected (2)" }).click();

    await notice(/^Queued 2: batch_a\.safetensors, batch_b\.safetensors/).waitFor();
    await eventually(text(status(m.batchA.file)), 20_000).toBe("On disk");
    await eventually(text(status(m.batchB.file)), 20_000).toBe("On disk");
    expect(await page.getByRole("button", { name: "Download selected" }).isDisabled()).toBe(true);
  });

  it("cancels a running download", async () => {
    await open();

    await row(m.long.file).getByRole("button", { name: `Download ${m.long.name}` }).click();
    await eventually(text(status(m.long.file)), 20_000).toBe("Downloading");
    await row(m.long.file).getByRole("button", { name: `Cancel ${m.long.name}` }).click();

    await notice(/Cancelled the download of Long SD 1\.5/).waitFor();
    await eventually(text(status(m.long.file))).toBe("Not downloaded");
    expect(await row(m.long.file).locator("progress").count()).toBe(0);
  });

  it("deletes a file, and removes a model from the catalog only once its file is gone", async () => {
    await open();
    const remove = row(m.present.file).getByRole("button", { name: `Remove from catalog ${m.present.name}` });
    expect(await remove.isDisabled()).toBe(true);
    expect(await remove.getAttribute("title")).toBe("Delete the file first");

    page.once("dialog", (dialog) => void dialog.accept());
    await row(m.present.file).getByRole("button", { name: `Delete file ${m.present.name}` }).click();
    await eventually(text(status(m.present.file))).toBe("Not downloaded");
    await eventually(() => remove.isDisabled()).toBe(false);
    page.once("dialog", (dialog) => void dialog.accept());
    await remove.click();

    await notice(/Removed Present VAE from the catalog/).waitFor();
    await eventually(() => row(m.present.file).count()).toBe(0);
  });

  it("imports a JSON file, and shows every problem of a bad one", async () => {
    await open();
    const imported = { name: "Imported upscaler", file: "imported_4x.pth", dest: "upscale_models", tags: ["upscale"] };
    const upload = (name: string, doc: unknown) =>
      page.getByLabel("JSON file").setInputFiles({ name, mimeType: "application/json", buffer: Buffer.from(JSON.stringify(doc)) });

    await upload("upscalers.json", catalog([{ id: "upscalers", name: "Upscalers", models: [imported, m.slow] }]));
    await page.getByRole("button", { name: "Import", exact: true }).click();

    await notice(/^Imported 1 from upscalers\.json: imported_4x\.pth; skipped 1 already in the catalog: slow_sdxl\.safetensors/).waitFor();
    await eventually(() => row(imported.file).locator(".tags li").allTextContents()).toEqual(["upscale", "imported"]);
    await page.getByRole("heading", { name: /^Upscalers/ }).waitFor();

    await upload("bad.json", catalog([{ id: "bad", name: "Bad", models: [{ name: "Bad", file: "../escape.safetensors", dest: "checkpoints" }] }]));
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.locator(".notice-error .notice-text").filter({ hasText: /categories\.0\.models\.0\.file/ }).waitFor();
  });

  it("fetches metadata and shows how each model went and the activity log", async () => {
    await open();

    await page.getByRole("button", { name: "Fetch metadata" }).click();

    await notice(/^Fetching metadata for 2 models$/).waitFor();
    await eventually(text(page.locator(".metadata-summary")), 20_000).toBe("Last run: 2 models — 1 done, 1 failed");
    expect(await page.locator(".metadata-errors li").textContent()).toMatch(/^gone_lora\.safetensors: /);
    await eventually(text(page.getByRole("log"))).toMatch(/OK -- detail_lora\.safetensors/);
    expect(await page.getByRole("log").textContent()).toMatch(/ERROR -- gone_lora\.safetensors/);
    await screenshot(page, "laptop-metadata", true);
  });

  it("shows the API's detail when catalog updates are not set up", async () => {
    await open();

    await page.getByRole("button", { name: "Check for updates" }).click();
    const notSet = page.locator(".notice-error").filter({ hasText: "CATALOG_REPO_URL is not set: point it at the git repository" });
    await notSet.waitFor();
    await screenshot(page, "laptop-error");
    await notSet.getByRole("button", { name: "Dismiss" }).click();
    await notSet.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Sync" }).click();

    await page.locator(".notice-error").filter({ hasText: "No catalog clone yet: check for updates first" }).waitFor();
  });

  it("works with the keyboard: '/' to search, Enter on a button, and the focus stays in the row", async () => {
    await open();

    await page.keyboard.press("/");
    await page.keyboard.type("keyboard");
    await eventually(visibleFiles).toEqual([m.keyboard.file]);
    await row(m.keyboard.file).getByRole("button", { name: `Download ${m.keyboard.name}` }).focus();
    await page.keyboard.press("Enter");

    await eventually(() => page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute("aria-label")), 20_000).toBe(`Cancel ${m.keyboard.name}`);
    await screenshot(page, "laptop-keyboard-focus");
    await page.keyboard.press("Enter");
    await eventually(text(status(m.keyboard.file))).toBe("Not downloaded");
  });

  it("fits a phone's screen", async () => {
    await open({ viewport: PHONE });

    const download = row(m.long.file).getByRole("button", { name: `Download ${m.long.name}` });
    await download.scrollIntoViewIfNeeded();
    const box = await download.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await page.evaluate(() => (globalThis as unknown as PageGlobals).scrollTo(0, 0));
    await screenshot(page, "phone-catalog");
    await screenshot(page, "phone-catalog-full", true);
  });

  for (const more of [volumeToolsTests, queueTests]) more({ open, stack: () => stack });
});

describe.skipIf(!chromiumAvailable())("catalog updates from the admin page", () => {
  let stack: OwnStack;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const known: TestModel = { name: "Known SDXL", file: "known_sdxl.safetensors", dest: "checkpoints", source: "url", url: "http://127.0.0.1:9/known" };
  const added: TestModel = { name: "Added Flux", file: "added_flux.safetensors", dest: "checkpoints", source: "url", url: "http://127.0.0.1:9/added", tags: ["flux"] };

  beforeAll(async () => {
    // a git remote on the local disk, as CATALOG_REPO_URL points at one on GitHub
    const dirs = await tempDirs("models-admin-e2e-updates-");
    const remote = createCatalogRemote(dirs.root);
    publish(remote, catalog([{ id: "checkpoints", name: "Checkpoints", models: [known, added] }], 2, "2026-12-01 10:00"), "version 2");
    stack = await startOwnStack({ CATALOG_REPO_URL: remote.url }, dirs);
    await writeCatalog(stack.stack.studioDir, "models", catalog([{ id: "checkpoints", name: "Checkpoints", models: [known] }], 1, "2026-11-01 10:00"));
    browser = await launchChromium();
  });

  closeAfterwards(() => ({ page, browser, stack }), problems);

  it("finds a new version, syncs it, and shows its models without a reload", async () => {
    page = await openPage(browser, stack, problems);
    const updates = page.locator("#updates-status");
    await expect.poll(() => updates.textContent(), { timeout: 15_000 }).toBe("Not checked yet. Local catalog: version 1.");
    expect(await page.locator("tr[data-file]").count()).toBe(1);
    expect(await page.locator("#catalog-count").textContent()).toBe("1 model");

    await page.getByRole("button", { name: "Check for updates" }).click();
    await expect.poll(() => updates.textContent(), { timeout: 30_000 }).toBe("Version 2 is available (this pod has 1): Sync to take it.");
    await screenshot(page, "laptop-update-available");
    await page.getByRole("button", { name: "Sync" }).click();

    await page.locator(".notice-text").filter({ hasText: "Catalog updated from version 1 to 2 (2026-12-01 10:00)" }).waitFor();
    await page.locator(`tr[data-file="${added.file}"]`).waitFor();
    expect(await page.locator(`tr[data-file="${added.file}"] .model-name`).textContent()).toBe("Added Flux");
    expect(await page.locator("#catalog-count").textContent()).toBe("2 models");
    await expect.poll(() => updates.textContent(), { timeout: 15_000 }).toBe("Up to date: version 2 (remote 2).");
    await screenshot(page, "laptop-synced");

    await page.getByRole("button", { name: "Sync" }).click();
    await page.locator(".notice-text").filter({ hasText: "The catalog is up to date (version 2)" }).waitFor();
  });
});
