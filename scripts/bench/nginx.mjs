// nginx serving the sources on two loopback ports: one as fast as it can, one throttled per connection (the
// way a CDN limits each connection, which is what several ranged connections at once are for).
import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { freePort } from "../script-kit.mjs";
import { stopChild } from "../../test/support/launch-stack.mjs";
import { BATCH, BENCH_DIR, BenchError, log, NGINX_DIR, run, SOURCE, THROTTLE, waitFor, which } from "./common.mjs";

/** Only the sources are served, not the rest of BENCH_DIR (the copies, the stacks' folders). */
const SERVED = [SOURCE, ...BATCH];
const LOCATION = `location ~ ^/(${SERVED.map((f) => f.name.replace(".", "\\.")).join("|")})$ { }`;

function config(fast, slow) {
  const temp = (name) => path.join(NGINX_DIR, "temp", name);
  return `# written by scripts/bench/nginx.mjs
daemon off;
master_process on;
worker_processes 2;
user root;
pid ${path.join(NGINX_DIR, "nginx.pid")};
error_log ${path.join(NGINX_DIR, "error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  client_body_temp_path ${temp("client")};
  proxy_temp_path ${temp("proxy")};
  fastcgi_temp_path ${temp("fastcgi")};
  uwsgi_temp_path ${temp("uwsgi")};
  scgi_temp_path ${temp("scgi")};
  server {
    listen 127.0.0.1:${fast};
    root ${BENCH_DIR};
    ${LOCATION}
    location / { return 404; }
  }
  server {
    listen 127.0.0.1:${slow};
    root ${BENCH_DIR};
    limit_rate ${THROTTLE};
    ${LOCATION}
    location / { return 404; }
  }
}
`;
}

/**
 * Starts nginx (stopped at `life`'s clean-up); once every source answers on both ports, resolves with
 * `fast(name)` and `slow(name)`: a source's URL on the unthrottled and on the throttled port.
 */
export async function startNginx(life) {
  await rm(NGINX_DIR, { recursive: true, force: true });
  await mkdir(path.join(NGINX_DIR, "temp"), { recursive: true });
  const [fast, slow] = [await freePort(), await freePort()];
  const confFile = path.join(NGINX_DIR, "nginx.conf");
  await writeFile(confFile, config(fast, slow));
  const nginx = which("nginx");
  const check = run(nginx, ["-t", "-q", "-p", `${NGINX_DIR}/`, "-e", path.join(NGINX_DIR, "error.log"), "-c", confFile]);
  if (check.status !== 0) throw new BenchError(`nginx refused its configuration:\n${check.stderr}`);
  const child = spawn(nginx, ["-p", `${NGINX_DIR}/`, "-e", path.join(NGINX_DIR, "error.log"), "-c", confFile], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  life.own(child, () => stopChild(child, { group: true, graceMs: 5_000 }));
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const urls = { fast: (name) => `http://127.0.0.1:${fast}/${name}`, slow: (name) => `http://127.0.0.1:${slow}/${name}` };
  const expected = SERVED.flatMap(({ name, size }) => [urls.fast(name), urls.slow(name)].map((url) => ({ url, size })));
  await waitFor(
    "nginx start",
    async () => {
      if (child.exitCode !== null) throw new BenchError(`nginx exited: ${stderr}`);
      const heads = await Promise.all(expected.map(({ url }) => globalThis.fetch(url, { method: "HEAD" })));
      return heads.every((res, i) => res.status === 200 && Number(res.headers.get("content-length")) === expected[i].size);
    },
    10_000,
  ).catch((error) => {
    throw new BenchError(`${error.message}${stderr ? `\n${stderr}` : ""}`);
  });
  log(`nginx pid ${child.pid}: unthrottled ${urls.fast(SOURCE.name)}, throttled (${THROTTLE}/s per connection) ${urls.slow(SOURCE.name)}`);
  return urls;
}
