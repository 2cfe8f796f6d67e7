// `npm start`: bundles the TypeScript supervisor with esbuild (a few dozen ms) and runs it.
import { buildSync, stop as stopEsbuild } from "esbuild";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outfile = path.join(root, ".build", "server.cjs");
buildSync({
  entryPoints: [path.join(root, "lib", "server", "main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "inline",
  logLevel: "warning",
});
// buildSync leaves its service process running; the supervisor has no more use for it
stopEsbuild();
process.argv[2] = root;
createRequire(import.meta.url)(outfile);
