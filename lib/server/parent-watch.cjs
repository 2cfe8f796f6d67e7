// Preloaded (NODE_OPTIONS=--require) into every child that `npm start` supervises. The children run in
// process groups of their own, so that Ctrl-C stops each with all it started; but then nothing stops them
// when the supervisor itself dies abruptly (SIGKILL, the OOM killer), and they would run on as orphans,
// the sidecar still holding its lock. When the parent is gone the child stops as on SIGTERM, or exits.
// (Worker threads preload it too; they watch the same parent and signal the same process.)
/* global setInterval, clearInterval */
"use strict";

const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  console.error(`its supervisor (pid ${parent}) is gone; stopping`);
  process.kill(process.pid, "SIGTERM");
  setTimeout(() => process.exit(1), 5_000).unref();
}, 1_000);
watch.unref();
