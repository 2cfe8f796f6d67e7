import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeStrayTemps, writeFileAtomic } from "../../../lib/fs/atomic-write";
import { makeTempDir, removeTempDir } from "../helpers";

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir();
});

afterEach(() => removeTempDir(dir));

describe("removeStrayTemps", () => {
  it("removes the temp files of a writer killed before its rename, and nothing else", async () => {
    const file = path.join(dir, "status.json");
    await writeFileAtomic(file, "{}");
    const others = ["status.json.corrupt-2026-01-01T00-00-00-000Z", ".status.json.notes", ".other.json.123.abcdef01.tmp", "status.json.lock"];
    for (const name of [".status.json.4242.0badc0de.tmp", ".status.json.7.12345678.tmp", ...others]) await writeFile(path.join(dir, name), "x");

    await removeStrayTemps(file);

    expect((await readdir(dir)).sort()).toEqual(["status.json", ...others].sort());
    expect(await readFile(file, "utf8")).toBe("{}");
  });

  it("does nothing for a folder that is not there", async () => {
    await expect(removeStrayTemps(path.join(dir, "missing", "status.json"))).resolves.toBeUndefined();
  });
});
