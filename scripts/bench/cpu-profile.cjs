// Preloaded (NODE_OPTIONS=--require) into every Node process of the stack by `npm run bench -- --profile`.
// In the sidecar only (the process whose script is .build/daemon.cjs) it does what `node --cpu-prof` does:
// V8's CPU profiler from the start, its profile written at exit as
// $BENCH_CPU_PROFILE_DIR/CPU.<date>.<time>.<pid>.<thread>.001.cpuprofile. Node 20 refuses --cpu-prof in
// NODE_OPTIONS, and the sidecar is started without execArgv; the inspector module reaches the same profiler.
// The sidecar exits through process.exit on SIGTERM, so the "exit" event runs; posting to an inspector
// session of the same thread is synchronous, which is what lets it write there.
/* eslint-disable @typescript-eslint/no-require-imports -- NODE_OPTIONS=--require loads CommonJS */
"use strict";
const fs = require("node:fs");
const inspector = require("node:inspector");
const path = require("node:path");
const { threadId } = require("node:worker_threads");

const dir = process.env.BENCH_CPU_PROFILE_DIR;

function fileName() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return path.join(dir, `CPU.${date}.${time}.${process.pid}.${threadId}.001.cpuprofile`);
}

function profile() {
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  // --cpu-prof's default interval: one sample a millisecond
  session.post("Profiler.setSamplingInterval", { interval: 1000 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (error, result) => {
      if (error) console.error(`cpu-profile: ${error.message}`);
      else fs.writeFileSync(fileName(), JSON.stringify(result.profile));
    });
  });
}

if (dir && /daemon\.cjs$/.test(process.argv[1] ?? "")) {
  try {
    profile();
  } catch (error) {
    console.error(`cpu-profile: could not start the profiler: ${error.message}`);
  }
}
