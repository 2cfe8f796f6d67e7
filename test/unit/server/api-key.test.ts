import { spawn } from "node:child_process";
import { chmod, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveApiKey } from "../../../lib/server/api-key";
import { Secret } from "../../../lib/secret";
import { makeTempDir, removeTempDir } from "../helpers";

let root: string;
let studioDir: string;

beforeEach(async () => {
  root = await makeTempDir();
  studioDir = path.join(root, "studio");
});

afterEach(async () => {
  await removeTempDir(root);
});

const keyFile = () => path.join(studioDir, "api-key");
const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

describe("resolveApiKey", () => {
  it("generates a key on first start, stores it with mode 0600 and says it is new", async () => {
    const source = await resolveApiKey(undefined, studioDir);

    expect(source.origin).toBe("generated");
    expect(source.file).toBe(keyFile());
    expect(source.key.reveal()).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await readFile(keyFile(), "utf8")).toBe(`${source.key.reveal()}\n`);
    expect(await modeOf(keyFile())).toBe(0o600);
  });

  it("reuses the stored key on the next start", async () => {
    const first = await resolveApiKey(undefined, studioDir);

    const second = await resolveApiKey(undefined, studioDir);

    expect(second.origin).toBe("file");
    expect(second.key.reveal()).toBe(first.key.reveal());
  });

  it("generates a different key in a different studio", async () => {
    const one = await resolveApiKey(undefined, path.join(root, "one"));
    const two = await resolveApiKey(undefined, path.join(root, "two"));

    expect(one.key.reveal()).not.toBe(two.key.reveal());
  });

  it("uses API_KEY from the environment and writes no file", async () => {
    const source = await resolveApiKey(new Secret("from-env"), studioDir);

    expect(source.origin).toBe("env");
    expect(source.key.reveal()).toBe("from-env");
    await expect(readdir(root)).resolves.toEqual([]);
  });

  it("lets API_KEY win over a stored key and leaves the stored one alone", async () => {
    await mkdir(studioDir, { recursive: true });
    await writeFile(keyFile(), "stored-key\n", { mode: 0o600 });

    const source = await resolveApiKey(new Secret("from-env"), studioDir);

    expect(source.key.reveal()).toBe("from-env");
    expect(await readFile(keyFile(), "utf8")).toBe("stored-key\n");
  });

  it("tightens a world-readable key file to 0600 and keeps its key", async () => {
    await mkdir(studioDir, { recursive: true });
    await writeFile(keyFile(), "  hand-written-key \n");
    await chmod(keyFile(), 0o644);

    const source = await resolveApiKey(undefined, studioDir);

    expect(source.origin).toBe("file");
    expect(source.key.reveal()).toBe("hand-written-key");
    expect(await modeOf(keyFile())).toBe(0o600);
  });

  it("never prints the key through the Secret it returns", async () => {
    const source = await resolveApiKey(undefined, studioDir);

    expect(JSON.stringify(source)).not.toContain(source.key.reveal());
    expect(String(source.key)).toBe("[redacted]");
  });

  it("agrees on one key when several first starts race in one process", async () => {
    const sources = await Promise.all(Array.from({ length: 12 }, () => resolveApiKey(undefined, studioDir)));

    const keys = new Set(sources.map((s) => s.key.reveal()));
    expect(keys.size).toBe(1);
    expect(sources.filter((s) => s.origin === "generated")).toHaveLength(1);
    expect(await readFile(keyFile(), "utf8")).toBe(`${[...keys][0]}\n`);
  });

  it("agrees on one key when several `npm start` processes start at once", async () => {
    // the real case: separate processes, each with its own event loop, on one studio folder
    const bundle = path.join(root, "resolve-key.cjs");
    await build({
      stdin: {
        contents: `import { resolveApiKey } from "./lib/server/api-key";
          resolveApiKey(undefined, process.argv[2]).then((s) => process.stdout.write(s.origin + " " + s.key.reveal()));`,
        resolveDir: path.resolve(__dirname, "..", "..", ".."),
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: bundle,
      logLevel: "silent",
    });
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [bundle, studioDir], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
      });

    const outputs = await Promise.all(Array.from({ length: 6 }, run));

    const keys = new Set(outputs.map((line) => line.split(" ")[1]));
    expect(keys.size).toBe(1);
    expect(outputs.filter((line) => line.startsWith("generated "))).toHaveLength(1);
    expect(await readFile(keyFile(), "utf8")).toBe(`${[...keys][0]}\n`);
  });

  it("replaces an empty key file, as left by a start killed mid-write, with a new key", async () => {
    await mkdir(studioDir, { recursive: true });
    await writeFile(keyFile(), "", { mode: 0o600 });

    const source = await resolveApiKey(undefined, studioDir);

    expect(source.key.reveal()).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await readFile(keyFile(), "utf8")).toBe(`${source.key.reveal()}\n`);
  });
});
