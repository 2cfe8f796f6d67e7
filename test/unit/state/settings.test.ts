/**
 * The live download settings (state/settings.ts): the environment's defaults, a change kept in the file and
 * the rest left as they were, what a PUT may hold (422 for the rest, through the API's composition), and the
 * sidecar's reader, which reads the file again only when it changed.
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { api } from "../../../lib/http/api";
import { MIN_BYTES_PER_SECOND, readSettings, SettingsChange, SettingsReader, settingsPath, updateSettings } from "../../../lib/state/settings";
import { API_KEY, quietErrors } from "../http/api-fixture";
import { invokeApi, useStudio } from "../helpers";

vi.mock("node:fs/promises", { spy: true });

quietErrors();
const studio = useStudio({ API_KEY, MAX_CONCURRENT_DOWNLOADS: "4", DOWNLOAD_CONNECTIONS: "6" });

/** The PUT handler's composition, over this test's studio. */
const put = (body: unknown) =>
  invokeApi(
    api(({ body: change, studio: s }) => updateSettings(s.config, change), { body: SettingsChange, studio }),
    { method: "PUT", body: JSON.stringify(body), key: API_KEY },
  );

describe("download settings", () => {
  it("start from the environment's values, with no cap, and write no file for that", async () => {
    expect(await readSettings(studio().config)).toEqual({ max_bytes_per_second: null, max_concurrent: 4, connections_per_file: 6 });
    await expect(readFile(settingsPath(studio().config))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("keep a change in state/settings.json, the other settings as they were, and answer the whole settings", async () => {
    const reply = await put({ max_bytes_per_second: 8_388_608 });

    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ max_bytes_per_second: 8_388_608, max_concurrent: 4, connections_per_file: 6 });
    expect((await put({ max_concurrent: 1, connections_per_file: 32 })).json).toEqual({ max_bytes_per_second: 8_388_608, max_concurrent: 1, connections_per_file: 32 });
    expect((await put({ max_bytes_per_second: null })).json).toEqual({ max_bytes_per_second: null, max_concurrent: 1, connections_per_file: 32 });
    // persisted: another process (the sidecar, a restart) reads the same
    expect(JSON.parse(await readFile(settingsPath(studio().config), "utf8"))).toEqual({ max_bytes_per_second: null, max_concurrent: 1, connections_per_file: 32 });
  });

  it.each([
    [{ max_concurrent: 0 }, "max_concurrent"],
    [{ max_concurrent: 33 }, "max_concurrent"],
    [{ max_concurrent: 2.5 }, "max_concurrent"],
    [{ connections_per_file: 0 }, "connections_per_file"],
    [{ connections_per_file: 33 }, "connections_per_file"],
    [{ connections_per_file: "8" }, "connections_per_file"],
    [{ max_bytes_per_second: 0 }, "max_bytes_per_second"],
    [{ max_bytes_per_second: MIN_BYTES_PER_SECOND - 1 }, "max_bytes_per_second"],
    [{ max_bytes_per_second: -5 }, "max_bytes_per_second"],
    [{ max_bytes_per_second: 1.5e6 + 0.5 }, "max_bytes_per_second"],
    [{ max_concurrent: 2, speed: 5 }, ""],
  ])("refuse %j with 422 and change nothing", async (body, field) => {
    await put({ max_concurrent: 2 });

    const reply = await put(body);

    expect(reply.status).toBe(422);
    expect(JSON.stringify(reply.json)).toContain(field);
    expect(await readSettings(studio().config)).toEqual({ max_bytes_per_second: null, max_concurrent: 2, connections_per_file: 6 });
  });

  it("refuse a body that is no object of settings with 422", async () => {
    for (const body of [null, [], "fast", 5]) expect((await put(body)).status).toBe(422);
  });

  it("accept the smallest cap and an empty change", async () => {
    expect((await put({ max_bytes_per_second: MIN_BYTES_PER_SECOND })).status).toBe(200);
    expect((await put({})).json).toEqual({ max_bytes_per_second: MIN_BYTES_PER_SECOND, max_concurrent: 4, connections_per_file: 6 });
  });

  it("keep what still parses of a hand-edited file", async () => {
    const file = settingsPath(studio().config);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ max_bytes_per_second: 2_000_000, max_concurrent: 99 }));

    expect(await readSettings(studio().config)).toEqual({ max_bytes_per_second: 2_000_000, max_concurrent: 4, connections_per_file: 6 });
  });
});

describe("SettingsReader (the sidecar's, every 250 ms)", () => {
  it("reads the file only when it changed, and sees each change", async () => {
    const reader = new SettingsReader(studio().config);
    const reads = vi.mocked(fsp.readFile);

    expect((await reader.current()).max_concurrent).toBe(4);
    await updateSettings(studio().config, { max_concurrent: 2 });
    reads.mockClear();
    const first = await reader.current();
    for (let i = 0; i < 20; i += 1) expect(await reader.current()).toBe(first);

    expect(first.max_concurrent).toBe(2);
    expect(reads).toHaveBeenCalledTimes(1);
    await updateSettings(studio().config, { max_concurrent: 3 });
    expect((await reader.current()).max_concurrent).toBe(3);
  });
});
