// `npm start` (node scripts/run.mjs server) and `npm run daemon` (node scripts/run.mjs daemon):
// bundles the TypeScript entry with esbuild (a few dozen ms) into .build/ and runs it.
import { buildSync, stop as stopEsbuild } from "esbuild";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entries = {
  server: path.join(root, "lib", "server", "main.ts"),
  daemon: path.join(root, "lib", "daemon", "main.ts"),
};

/**
 * Bundles every entry (the server starts the daemon from its bundle) and returns the bundle of `name`.
 * Each file is written whole and renamed into place: a sidecar restarted by another running instance
 * never loads half a bundle.
 */
export function build(name) {
  const outdir = path.join(root, ".build");
  mkdirSync(outdir, { recursive: true });
  for (const [entry, file] of Object.entries(entries)) {
    const { outputFiles } = buildSync({
      entryPoints: [file],
      outfile: path.join(outdir, `${entry}.cjs`),
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      // a linked map, not an inline one: inline, its text stays in memory (11 MB more RSS for the sidecar)
      sourcemap: "linked",
      logLevel: "warning",
      // only a function in the cloud reads its key from SSM (lib/http/key-source.ts, a dynamic import); here
      // they would double the server's bundle and its build time, on every start
      external: ["@aws-sdk/*", "@aws-lambda-powertools/*"],
      write: false,
    });
    for (const output of outputFiles) {
      const temp = `${output.path}.${process.pid}.tmp`;
      writeFileSync(temp, output.contents);
      renameSync(temp, output.path);
    }
  }
  // buildSync leaves its service process running; nothing here needs it any more
  stopEsbuild();
  return path.join(outdir, `${name}.cjs`);
}

const name = process.argv[2] ?? "server";
if (!(name in entries)) {
  console.error(`usage: node scripts/run.mjs ${Object.keys(entries).join("|")}`);
  process.exit(2);
}
const bundle = build(name);
process.argv[2] = root;
createRequire(import.meta.url)(bundle);
