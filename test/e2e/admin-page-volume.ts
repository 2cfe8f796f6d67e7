/**
 * The admin page's tools for models from anywhere and the volume's own files (issue 14), in Chromium
 * against the real stack: add by a pasted link (and the folder picker when the link does not say the
 * folder), the unlisted files identified and adopted, verify marking rows intact or damaged. They run in
 * admin-page.test.ts's suite, on its stack and browser (a stack of their own would double the file's start-up),
 * after its tests: the models, files and folders they touch are their own.
 */
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import { uploadForm } from "../support/client";
import { catalog } from "../support/catalogs";
import type { OwnStack } from "../support/own-stack";
import { eventually, text, type OpenOptions } from "./admin-page-kit";
import { screenshot, type PageGlobals } from "./browser";

const KiB = 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export interface SuiteAccess {
  open(options?: OpenOptions): Promise<Page>;
  stack(): OwnStack;
}

/** Writes `bytes` at `<models>/<relative>`, as a file copied onto the volume by hand. */
async function putOnVolume(stack: OwnStack, relative: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(stack.stack.modelsDir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

/** The bytes the upstream stand-in serves for a registered CivitAI version (following its redirect). */
async function civitaiBytes(stack: OwnStack, versionId: number): Promise<Uint8Array> {
  const response = await fetch(stack.up.civitaiUrl(versionId));
  expect(response.status).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

export function volumeToolsTests({ open, stack }: SuiteAccess): void {
  let page: Page;
  const row = (file: string) => page.locator(`tr[data-file="${file}"]`);
  const notice = (pattern: RegExp) => page.locator(".notice-text").filter({ hasText: pattern });
  const tools = () => page.getByRole("complementary", { name: "Catalog tools" });

  it("adds a model from a pasted link: it shows in the table without a reload, and downloads", async () => {
    const versionId = 914_001;
    await stack().up.register({ id: `civitai/${versionId}`, size: 256 * KiB, name: "pasted_link.safetensors" });
    page = await open();

    const link = tools().getByRole("textbox", { name: "Link to the model" });
    await link.fill(stack().up.civitaiUrl(versionId));
    await link.press("Enter");

    await notice(/^Added .+ \(checkpoints\/pasted_link\.safetensors\) to Checkpoints; downloading it$/).waitFor();
    const added = row("pasted_link.safetensors");
    expect(await added.locator(".tags li").allTextContents()).toContain("added");
    expect(await link.inputValue()).toBe("");
    await eventually(text(added.locator(".badge")), 20_000).toBe("On disk");
  });

  it("says why a link is refused, asks for the folder when the link does not say it, and adds the model there", async () => {
    await stack().up.register({ id: "e2e-org/misc/mystery_weights.safetensors", size: 128 * KiB });
    page = await open();
    const link = tools().getByRole("textbox", { name: "Link to the model" });
    const add = tools().getByRole("button", { name: "Add and download" });

    await link.fill("https://example.com/not/a/model");
    await add.click();
    await page.locator(".notice-error .notice-text").first().waitFor();
    expect(await page.locator(".notice-error .notice-text").first().textContent()).toMatch(/\S/);

    await link.fill(`${stack().upstream.url}/e2e-org/misc/blob/main/mystery_weights.safetensors`);
    await add.click();
    const hint = page.locator("#add-hint");
    await hint.waitFor();
    expect(await hint.textContent()).toMatch(/dest.*Choose its folder, then add it again\.$/s);
    const folder = tools().getByRole("combobox", { name: "Folder", exact: true });
    await eventually(() => page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute("id"))).toBe("add-dest");
    await screenshot(page, "laptop-add-asks-folder");
    await folder.selectOption("loras");
    await tools().getByRole("combobox", { name: "Category" }).selectOption({ label: "LoRAs" });
    await add.click();

    await notice(/^Added .+ \(loras\/mystery_weights\.safetensors\) to LoRAs; downloading it$/).waitFor();
    expect(await hint.isHidden()).toBe(true);
    const section = page.locator(".category").filter({ has: page.getByRole("heading", { name: /^LoRAs/ }) });
    await section.locator('tr[data-file="mystery_weights.safetensors"]').waitFor();
    await eventually(text(row("mystery_weights.safetensors").locator(".badge")), 20_000).toBe("On disk");
  });

  it("lists the unlisted files, identifies them with live progress, and adopts them into the catalog", async () => {
    const versionId = 914_002;
    await stack().up.register({ id: `civitai/${versionId}`, size: 192 * KiB, name: "found_style.safetensors" });
    const known = await civitaiBytes(stack(), versionId);
    await putOnVolume(stack(), "loras/found/found_style.safetensors", known);
    await putOnVolume(stack(), "loras/found/homemade_mix.safetensors", new Uint8Array(64 * KiB).fill(3));
    const vanishing = await putOnVolume(stack(), "loras/found/vanishing.safetensors", new Uint8Array(32 * KiB).fill(5));
    // CivitAI takes its time: the run stays "running" long enough for the page to show its bar and Cancel
    const version = (await (await fetch(`${stack().upstream.url}/api/v1/model-versions/${versionId}`)).json()) as unknown;
    await stack().up.can({ method: "POST", path: "/api/v1/model-versions/by-hash", status: 200, body: [version], delayMs: 1_200, times: 1 });
    page = await open();
    const panel = page.getByRole("region", { name: "Unlisted files" });
    const item = (relative: string) => panel.locator(`li[data-path="${relative}"]`);
    await item("loras/found/found_style.safetensors").waitFor();
    expect(await item("loras/found/homemade_mix.safetensors").textContent()).toMatch(/64\.0 KiB\s*Not identified yet/);

    await panel.getByRole("button", { name: "Identify" }).click();

    await panel.locator("#identify-status progress").waitFor();
    expect(await panel.getByRole("button", { name: "Cancel identifying" }).isVisible()).toBe(true);
    await eventually(text(panel.locator(".job-text")), 20_000).toMatch(/^Identified: \d+ of \d+ files hashed · 1 known to CivitAI$/);
    expect(await panel.getByRole("button", { name: "Cancel identifying" }).isVisible()).toBe(false);
    await eventually(text(item("loras/found/found_style.safetensors").locator(".unlisted-match"))).toMatch(/^CivitAI: .+ · Checkpoint · SDXL 1\.0$/);
    expect(await item("loras/found/homemade_mix.safetensors").locator(".unlisted-match").textContent()).toBe("Hashed; CivitAI does not know it");

    // the keyboard selects as well as the mouse; a file gone from the volume since is skipped, with the reason
    await panel.getByRole("checkbox", { name: "Select loras/found/found_style.safetensors" }).focus();
    await page.keyboard.press("Space");
    await panel.getByRole("checkbox", { name: "Select loras/found/homemade_mix.safetensors" }).check();
    await panel.getByRole("checkbox", { name: "Select loras/found/vanishing.safetensors" }).check();
    await rm(vanishing);
    await screenshot(page, "laptop-unlisted-identified");
    await panel.getByRole("button", { name: "Adopt selected (3)" }).click();

    await notice(/^Adopted 2: .+; skipped 1: loras\/found\/vanishing\.safetensors \(.+\)$/).waitFor();
    await row("found_style.safetensors").waitFor();
    expect(await row("found_style.safetensors").locator(".tags li").allTextContents()).toContain("adopted");
    expect(await row("homemade_mix.safetensors").locator(".badge").textContent()).toBe("On disk");
    await eventually(() => panel.locator("li[data-path^='loras/found/']").count()).toBe(0);
    expect(await panel.getByRole("button", { name: "Adopt selected" }).isDisabled()).toBe(true);
  });

  it("verifies the files on disk: an intact one is marked verified, a damaged one says so and why", async () => {
    const bytes = new Uint8Array(48 * KiB).fill(9);
    const flipped = bytes.slice();
    flipped[1000] = 8;
    const entry = (file: string) => ({ name: file.replace(".safetensors", ""), file, dest: "checkpoints/verify", sha256: sha256(bytes) });
    const imported = catalog([{ id: "verify", name: "Verify", models: [entry("intact_check.safetensors"), entry("flipped_check.safetensors")] }]);
    const reply = await stack().call("POST", "/api/admin/models/import", { body: uploadForm(JSON.stringify(imported)) });
    expect(reply.status).toBe(200);
    await putOnVolume(stack(), "checkpoints/verify/intact_check.safetensors", bytes);
    await putOnVolume(stack(), "checkpoints/verify/flipped_check.safetensors", flipped);
    page = await open();

    await tools().getByRole("button", { name: "Verify", exact: true }).click();

    await notice(/^1 file damaged: the catalog marks it “Damaged”$/).waitFor({ timeout: 20_000 });
    expect(await page.locator("#verify-status .job-text").textContent()).toMatch(/^Verified: (\d+) of \1 files checked · \d+ intact · 1 damaged$/);
    const damaged = row("flipped_check.safetensors");
    expect(await damaged.locator(".badge").textContent()).toBe("Damaged");
    expect(await damaged.locator(".row-error").textContent()).toBe(
      `The file is damaged: its SHA256 is ${sha256(flipped)}, the catalog says ${sha256(bytes)}. Delete it and download it again.`,
    );
    expect(await damaged.getByRole("button", { name: /^Delete file / }).isEnabled()).toBe(true);
    expect(await row("intact_check.safetensors").locator(".verified").textContent()).toBe("✓ Verified");
    expect(await row("intact_check.safetensors").locator(".badge").textContent()).toBe("On disk");
    await page.getByRole("search").getByLabel("Status").selectOption({ label: "Damaged" });
    await eventually(() => page.locator("tr[data-file]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-file")))).toEqual(["flipped_check.safetensors"]);
    await screenshot(page, "laptop-verified");
  });
}
