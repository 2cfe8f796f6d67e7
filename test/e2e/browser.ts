import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { PROJECT_DIR } from "../support/stack";

/** Debian's Chromium (.ci/run installs it); playwright-core downloads no browser of its own. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Without Chromium the browser tests can't run: in CI that is a failure (the set-up is broken), on a
 * developer's machine a skip that says why.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run) for the admin page's tests`);
  console.warn(`Skipping the admin page's browser tests: ${CHROMIUM} is missing (apt-get install chromium)`);
  return false;
}

// The machine has no network: without these Chromium keeps trying to reach Google's services.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile of its own (no stored key, no cache), at a laptop's size. */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), "models-admin-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: LAPTOP,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The page's globals that the tests' `page.evaluate` callbacks use: the tests are type-checked with Node's
 * types, not the DOM's, and a callback runs in the page, so it casts `globalThis` to this.
 */
export interface PageGlobals {
  readonly localStorage: { setItem(name: string, value: string): void; clear(): void };
  readonly document: {
    readonly activeElement: { getAttribute(name: string): string | null } | null;
    readonly documentElement: { readonly scrollWidth: number };
  };
  scrollTo(x: number, y: number): void;
  readonly pwned?: number;
}

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

const SCREENSHOTS = path.join(PROJECT_DIR, "test", "screenshots");

/** A screenshot under test/screenshots/ (ignored by git), for a person to look at. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}
