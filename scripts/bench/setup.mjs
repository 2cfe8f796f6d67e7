// `npm run bench:setup` (node scripts/bench/setup.mjs): installs what `npm run bench` runs besides the
// service, from Debian's packages with apt-get: nginx (nginx-light where the release still has it), aria2
// (aria2c) and curl. Only the missing ones are installed; with all three there, it does nothing. It needs
// root, or sudo. Run it once per machine; the benchmark itself installs nothing.
import { run, TOOLS, which } from "./common.mjs";

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

function main() {
  const missing = Object.keys(TOOLS).filter((tool) => !which(tool));
  if (missing.length === 0) {
    log(`${Object.keys(TOOLS).join(", ")} already installed`);
    return;
  }
  if (!which("apt-get")) throw new Error(`${missing.join(", ")} missing, and no apt-get here: install them with this system's packages`);
  aptGet(["update"]);
  const packages = missing.map((tool) => (tool === "nginx" ? nginxPackage() : TOOLS[tool]));
  log(`installing ${packages.join(" ")}`);
  aptGet(["install", "-y", "--no-install-recommends", ...packages]);
  const still = missing.filter((tool) => !which(tool));
  if (still.length > 0) throw new Error(`${still.join(", ")} still missing after apt-get install`);
  log(`installed: ${missing.join(", ")}`);
}

try {
  main();
} catch (error) {
  console.error(`[bench:setup] ${error.message}`);
  process.exitCode = 1;
}
