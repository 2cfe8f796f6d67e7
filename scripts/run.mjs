// `npm start` (node scripts/run.mjs server) and `npm run daemon` (node scripts/run.mjs daemon):
// bundles the TypeScript entry with esbuild (a few dozen ms) into .build/ and runs it.
import { buildSync, stop as stopEsbuild } from "esbuild";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entries = {
  server: path.join(root, "lib", "server", "main.ts"),
  daemon: path.join(root, "lib", "daemon", "main.ts"),
};

/** Bundles every entry (the server starts the daemon from its bundle) and returns the bundle of `name`. */
export function build(name) {
  for (const [entry, file] of Object.entries(entries)) {
    buildSync({
      entryPoints: [file],
      outfile: path.join(root, ".build", `${entry}.cjs`),
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      // a linked map, not an inline one: inline, its text stays in memory (11 MB more RSS for the sidecar)
      sourcemap: "linked",
      logLevel: "warning",
    });
  }
  // buildSync leaves its service process running; nothing here needs it any more
  stopEsbuild();
  return path.join(root, ".build", `${name}.cjs`);
}

const name = process.argv[2] ?? "server";
if (!(name in entries)) {
  console.error(`usage: node scripts/run.mjs ${Object.keys(entries).join("|")}`);
  process.exit(2);
}
const bundle = build(name);
process.argv[2] = root;
createRequire(import.meta.url)(bundle);
