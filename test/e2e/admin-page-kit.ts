/**
 * What the admin page's browser tests (admin-page.test.ts) stand on: the catalog they see, served by the
 * stack's upstream stand-in, and opening the page in a fresh tab that records what the CSP refused.
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, expect } from "vitest";
import { catalog, placeModel, writeCatalog, type TestModel } from "../support/catalogs";
import type { OwnStack } from "../support/own-stack";
import { LAPTOP, type Browser, type PageGlobals } from "./browser";

const MiB = 1024 * 1024;

const fileEntry = (stack: OwnStack, id: string, file: string, extra: Partial<TestModel> = {}): TestModel => ({
  name: file,
  file,
  dest: "checkpoints",
  source: "url",
  url: `${stack.upstream.url}/files/${id}`,
  ...extra,
});

function models(stack: OwnStack) {
  return {
    slow: fileEntry(stack, "e2e/slow", "slow_sdxl.safetensors", { name: "Slow SDXL", size_gb: 2 / 1024, tags: ["sdxl", "base"], base_model: "SDXL 1.0" }),
    long: fileEntry(stack, "e2e/long", "long_sd15.safetensors", { name: "Long SD 1.5", size_gb: 64 / 1024, tags: ["sd15"], base_model: "SD 1.5" }),
    present: fileEntry(stack, "e2e/present", "present_vae.safetensors", { name: "Present VAE", dest: "vae", tags: ["vae"], base_model: "SDXL 1.0" }),
    batchA: fileEntry(stack, "e2e/batch-a", "batch_a.safetensors", { name: "Batch style A", dest: "loras", tags: ["style"] }),
    batchB: fileEntry(stack, "e2e/batch-b", "batch_b.safetensors", { name: "Batch style B", dest: "loras", tags: ["style"] }),
    keyboard: fileEntry(stack, "e2e/keyboard", "keyboard.safetensors", { name: "Keyboard LoRA", dest: "loras", tags: ["style"] }),
    hf: { name: "Detail LoRA", file: "detail_lora.safetensors", dest: "loras", source: "huggingface", hf_repo: "e2e-org/details", hf_file: "detail_lora.safetensors", tags: ["detail"] },
    gone: { name: "Gone LoRA", file: "gone_lora.safetensors", dest: "loras", source: "huggingface", hf_repo: "e2e-org/gone", hf_file: "gone_lora.safetensors", tags: ["detail"] },
    html: fileEntry(stack, "e2e/html", "login_page.safetensors", { name: "Behind a login", dest: "vae" }),
    html2: fileEntry(stack, "e2e/html", "login_page_2.safetensors", { name: "Also behind a login", dest: "vae" }),
    // catalog text is data, never markup
    hostile: fileEntry(stack, "e2e/hostile", "hostile.safetensors", { name: '<img src=x onerror="window.pwned=1"> Hostile', dest: "vae", tags: ["<b>tag</b>"] }),
  };
}

export type AdminPageModels = ReturnType<typeof models>;

/**
 * Registers the models' files with the stack's upstream (some slow, so that a download can be watched or
 * cancelled; one an HTML page), writes them as the catalog, and puts the present one on disk (3 MiB).
 */
export async function seedModels(stack: OwnStack): Promise<AdminPageModels> {
  const m = models(stack);
  await Promise.all([
    stack.up.register({ id: "e2e/slow", size: 2 * MiB, mode: "slow", bytesPerSecond: 512 * 1024 }),
    stack.up.register({ id: "e2e/long", size: 64 * MiB, mode: "slow", bytesPerSecond: 256 * 1024 }),
    stack.up.register({ id: "e2e/batch-a", size: MiB }),
    stack.up.register({ id: "e2e/batch-b", size: MiB }),
    stack.up.register({ id: "e2e/keyboard", size: 4 * MiB, mode: "slow", bytesPerSecond: 512 * 1024 }),
    stack.up.register({ id: "e2e-org/details/detail_lora.safetensors", size: MiB }),
    stack.up.register({ id: "e2e/html", size: MiB, mode: "html" }),
  ]);
  await writeCatalog(
    stack.stack.studioDir,
    "models",
    catalog([
      { id: "checkpoints", name: "Checkpoints", models: [m.slow, m.long] },
      { id: "loras", name: "LoRAs", models: [m.batchA, m.batchB, m.keyboard, m.hf, m.gone] },
      { id: "vae", name: "VAE", models: [m.present, m.hostile, m.html, m.html2] },
    ]),
  );
  await placeModel(stack.stack.modelsDir, m.present, 3 * MiB);
  return m;
}

export interface OpenOptions {
  key?: string | null;
  viewport?: { width: number; height: number };
  /** Runs before the page loads: to route or refuse some of its requests. */
  prepare?: (page: Page) => Promise<unknown>;
}

/**
 * Opens the page on a fresh tab with `key` in localStorage (none for null), and waits for the catalog.
 * A page error, or a script or style the CSP refused, goes into `problems`.
 */
export async function openPage(browser: Browser, stack: OwnStack, problems: string[], options: OpenOptions = {}): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(options.viewport ?? LAPTOP);
  await options.prepare?.(page);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Uncaught/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${stack.stack.baseUrl}/admin`);
  const key = options.key === undefined ? stack.apiKey : options.key;
  await page.evaluate((value) => {
    const { localStorage } = globalThis as unknown as PageGlobals;
    if (value === null) localStorage.clear();
    else localStorage.setItem("models-admin.api-key", value);
  }, key);
  await page.reload();
  if (key !== null) await page.locator(".category > h3").first().waitFor();
  return page;
}

/**
 * After each test its page is closed, and a script or style the CSP refused, or a script error, fails it
 * even if it passed otherwise; after all of them the browser and the stack are closed.
 */
export function closeAfterwards(opened: () => { page?: Page; browser?: Browser; stack?: OwnStack }, problems: string[]): void {
  afterEach(async () => {
    await opened().page?.close();
    expect(problems).toEqual([]);
    problems.length = 0;
  });
  afterAll(async () => {
    await opened().browser?.close();
    await opened().stack?.close();
  });
}

/** Polls `probe` until it passes: the stack shares two cores with the browser, so conditions get time, never a fixed sleep. */
export const eventually = <T>(probe: () => Promise<T> | T, timeout = 15_000) => expect.poll(probe, { timeout, interval: 100 });

/** A probe for `eventually`: the text of `locator` now. */
export const text = (locator: ReturnType<Page["locator"]>) => () => locator.textContent();
