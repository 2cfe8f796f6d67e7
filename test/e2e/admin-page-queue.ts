/**
 * The admin page's hold on the queue (issue 15), in Chromium against the real stack: pause and resume a
 * row, Pause all and Resume all, a queued row moved up from the keyboard, and the download settings with
 * the cap against the live speed. They run in admin-page.test.ts's suite, on its stack and browser, after
 * its tests; the models they download are their own, each cancelled before the next test.
 */
import type { Page } from "playwright-core";
import { afterAll, expect, it } from "vitest";
import { uploadForm } from "../support/client";
import { catalog } from "../support/catalogs";
import { eventually, text } from "./admin-page-kit";
import type { SuiteAccess } from "./admin-page-volume";
import { PHONE, screenshot, type PageGlobals } from "./browser";

const MiB = 1024 * 1024;
/** Slow enough never to finish during a test (4 connections at most, 256 KiB/s each): each test cancels its own. */
const FILES = ["held", "all_a", "all_b", "blocker", "first", "second"].map((id) => ({ id, file: `queue_${id}.safetensors` }));
const file = (id: string) => `queue_${id}.safetensors`;

export function queueTests({ open, stack }: SuiteAccess): void {
  let page: Page;
  let before: unknown;
  const row = (id: string) => page.locator(`tr[data-file="${file(id)}"]`);
  const badge = (id: string) => row(id).locator(".badge");
  const percent = (id: string) => () => row(id).locator("progress").evaluate((bar) => (bar as unknown as { value: number }).value).catch(() => -1);
  const focused = () => page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute("aria-label"));
  const notice = (pattern: RegExp) => page.locator(".notice-text").filter({ hasText: pattern });
  const name = (id: string) => `Queue ${id}`;
  const download = async (id: string) => expect((await stack().call("POST", `/api/admin/models/download/${file(id)}`)).status).toBe(200);
  const cancel = async (...ids: string[]) => {
    for (const id of ids) await stack().call("DELETE", `/api/admin/models/${file(id)}`);
  };

  it("pauses a download, showing it paused with its bar kept, and resumes it from there", async () => {
    await Promise.all(FILES.map(({ id }) => stack().up.register({ id: `e2e/queue/${id}`, size: 32 * MiB, mode: "slow", bytesPerSecond: 256 * 1024 })));
    const models = FILES.map(({ id, file: f }) => ({ name: name(id), file: f, dest: "checkpoints/queue", source: "url", url: `${stack().upstream.url}/files/e2e/queue/${id}` }));
    expect((await stack().call("POST", "/api/admin/models/import", { body: uploadForm(JSON.stringify(catalog([{ id: "queue", name: "Queue", models }]))) })).status).toBe(200);
    before = (await stack().call("GET", "/api/admin/downloads/settings")).json;
    page = await open();

    await row("held").getByRole("button", { name: `Download ${name("held")}` }).click();
    await eventually(percent("held"), 20_000).toBeGreaterThan(0);
    await row("held").getByRole("button", { name: `Pause ${name("held")}` }).click();

    await eventually(text(badge("held"))).toBe("Paused");
    await notice(/^Paused Queue held: it keeps what it has downloaded/).waitFor();
    const kept = await percent("held")();
    expect(kept).toBeGreaterThan(0);
    expect(await row("held").locator(".progress-text").textContent()).toMatch(/^\d+\.\d% · [\d.]+ (KiB|MiB) of 32\.0 MiB$/);
    await screenshot(page, "laptop-paused");
    // it stays paused: the sidecar has stopped it
    await page.waitForTimeout(1_500);
    expect(await badge("held").textContent()).toBe("Paused");
    expect(await percent("held")()).toBe(kept);

    // Resume took Pause's place, and the focus with it: Enter resumes
    expect(await focused()).toBe(`Resume ${name("held")}`);
    await page.keyboard.press("Enter");
    await eventually(text(badge("held"))).toBe("Downloading");
    await eventually(percent("held")).toBeGreaterThan(kept);
    await cancel("held");
  });

  it("pauses every download with Pause all, and resumes them with Resume all", async () => {
    page = await open();
    await download("all_a");
    await download("all_b");
    await eventually(text(badge("all_b")), 20_000).toBe("Downloading");

    await page.getByRole("button", { name: "Pause all" }).click();

    await notice(/^Paused 2: queue_all_[ab]\.safetensors, queue_all_[ab]\.safetensors$/).waitFor();
    await eventually(text(badge("all_a"))).toBe("Paused");
    await eventually(text(badge("all_b"))).toBe("Paused");
    await page.getByRole("button", { name: "Resume all" }).click();
    await notice(/^Resumed 2: queue_all_[ab]\.safetensors, queue_all_[ab]\.safetensors$/).waitFor();
    await eventually(text(badge("all_a"))).toBe("Downloading");
    await eventually(text(badge("all_b"))).toBe("Downloading");
    await cancel("all_a", "all_b");
  });

  it("saves the download settings, shows a refused value's reason, and the speed against the cap", async () => {
    page = await open();
    const panel = page.getByRole("region", { name: "Download settings" });
    const speed = panel.locator("#settings-speed");
    await eventually(text(speed)).toMatch(/^\d+\.\d+ MB\/s, no cap$/);

    await panel.getByRole("textbox", { name: "Bandwidth cap (MB/s)" }).fill("20");
    await panel.getByRole("textbox", { name: "Downloads at once" }).fill("1");
    await panel.getByRole("button", { name: "Save settings" }).click();
    await notice(/^Saved the download settings/).waitFor();
    await eventually(text(speed)).toMatch(/^\d+\.\d+ of 20 MB\/s$/);
    expect((await stack().call("GET", "/api/admin/downloads/settings")).json).toMatchObject({ max_bytes_per_second: 20_000_000, max_concurrent: 1 });

    await panel.getByRole("textbox", { name: "Connections per file" }).fill("99");
    await panel.getByRole("button", { name: "Save settings" }).click();
    const hint = panel.getByRole("alert");
    await hint.waitFor();
    expect(await hint.textContent()).toMatch(/\S/);
    expect((await stack().call("GET", "/api/admin/downloads/settings")).json).toMatchObject({ connections_per_file: (before as { connections_per_file: number }).connections_per_file });
    await screenshot(page, "laptop-settings-refused");

    // a download's speed shows against the cap
    await download("blocker");
    await eventually(async () => Number((await speed.textContent())?.split(" ")[0]), 20_000).toBeGreaterThan(0);
    expect(await speed.textContent()).toMatch(/^\d+\.\d+ of 20 MB\/s$/);
  });

  it("moves a queued download up from the keyboard, showing the queue's order, and keeps the focus on its row", async () => {
    // one download at a time (the last test's setting): the blocker runs, the others wait in order
    await download("first");
    await download("second");
    page = await open();
    await eventually(text(row("second").locator(".queue-place")), 20_000).toBe("2nd in the queue");
    expect(await row("first").locator(".queue-place").textContent()).toBe("1st in the queue");
    expect(await badge("blocker").textContent()).toBe("Downloading");

    await row("second").getByRole("button", { name: `Pause ${name("second")}` }).focus();
    await page.keyboard.press("Alt+ArrowUp");

    await eventually(text(row("second").locator(".queue-place"))).toBe("1st in the queue");
    await eventually(text(row("first").locator(".queue-place"))).toBe("2nd in the queue");
    expect(await focused()).toBe(`Pause ${name("second")}`);
    await screenshot(page, "laptop-queue-moved");

    // the buttons do the same from the keyboard
    await row("second").getByRole("button", { name: `Move ${name("second")} down the queue` }).focus();
    await page.keyboard.press("Enter");
    await eventually(text(row("second").locator(".queue-place"))).toBe("2nd in the queue");
    expect(await focused()).toBe(`Move ${name("second")} down the queue`);

    // a phone's screen holds the queue's buttons and the settings
    await page.setViewportSize(PHONE);
    const up = row("second").getByRole("button", { name: `Move ${name("second")} up the queue` });
    await up.scrollIntoViewIfNeeded();
    const box = await up.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, "phone-queue");
  });

  afterAll(async () => {
    await cancel("held", "all_a", "all_b", "blocker", "first", "second");
    if (before !== undefined) await stack().call("PUT", "/api/admin/downloads/settings", { json: before });
  });
}
