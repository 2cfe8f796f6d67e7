// `npm run bench:setup` (node scripts/bench/setup.mjs): installs what `npm run bench` runs besides the
// service, from Debian's packages with apt-get: nginx (nginx-light where the release still has it), aria2
// (aria2c), curl, and python3-requests for the Python original's loop (when no python3 here imports
// requests). Only the missing ones are installed; with all there, it does nothing. It needs root, or sudo.
// Run it once per machine; the benchmark itself installs nothing.
import { run, TOOLS, which } from "./common.mjs";
import { findPython } from "./references.mjs";

const log = (line) => console.log(`[bench:setup] ${line}`);

/** nginx-light when apt knows a candidate for it (Debian up to 12), else nginx. */
function nginxPackage() {
  const policy = run("apt-cache", ["policy", "nginx-light"]).stdout ?? "";
  const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  return candidate && candidate !== "(none)" ? "nginx-light" : "nginx";
}

/** apt-get with `args`, through sudo when not root; throws when it fails. */
function aptGet(args) {
  const root = process.getuid?.() === 0;
  if (!root && !which("sudo")) throw new Error("apt-get needs root: run this as root, or install sudo");
  const [command, prefix] = root ? ["apt-get", []] : ["sudo", ["apt-get"]];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const result = run(command, [...prefix, ...args], { stdio: "inherit", env });
  if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${result.status})`);
}

/** What is missing, each { what, package, there() }: the tools, and requests for some python3. */
function missingParts() {
  const tools = Object.keys(TOOLS).map((tool) => ({ what: tool, package: () => (tool === "nginx" ? nginxPackage() : TOOLS[tool]), there: () => which(tool) }));
  // Debian's python3-requests goes with Debian's /usr/bin/python3 (pulled in as its dependency when absent)
  const requests = { what: "python3 with requests", package: () => "python3-requests", there: () => findPython() };
  return [...tools, requests].filter((part) => !part.there());
}

function main() {
  const missing = missingParts();
  if (missing.length === 0) {
    log(`${Object.keys(TOOLS).join(", ")} and python3 with requests already installed`);
    return;
  }
  const names = missing.map((part) => part.what).join(", ");
  if (!which("apt-get")) throw new Error(`${names} missing, and no apt-get here: install them with this system's packages`);
  aptGet(["update"]);
  const packages = missing.map((part) => part.package());
  log(`installing ${packages.join(" ")}`);
  aptGet(["install", "-y", "--no-install-recommends", ...packages]);
  const still = missing.filter((part) => !part.there());
  if (still.length > 0) throw new Error(`${still.map((part) => part.what).join(", ")} still missing after apt-get install`);
  log(`installed: ${names}`);
}

try {
  main();
} catch (error) {
  console.error(`[bench:setup] ${error.message}`);
  process.exitCode = 1;
}
