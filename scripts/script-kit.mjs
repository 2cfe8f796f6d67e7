// What the measuring scripts (bench.mjs, load.mjs) share: free ports, detached children stopped with their
// whole process group, and clean-ups that run whatever happens (Ctrl-C, an exception, a normal end).
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const killGroup = (pid, signal) => {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
};

/** Group-kills a detached child: SIGTERM, then SIGKILL after `graceMs`, then whatever of its group is left. */
export async function stopGroup(child, graceMs = 10_000) {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  killGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(child.pid, "SIGKILL");
}

/**
 * Clean-up steps, run last first and once, on a normal end, an error or SIGINT/SIGTERM (then the process
 * exits 130). Children passed to `own` are SIGKILLed with their group at exit, as a last resort.
 */
export function lifecycle(log) {
  const steps = [];
  const owned = new Set();
  let cleaning;
  let interrupted = false;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const step of steps.reverse()) await step().catch((error) => log(`cleanup: ${error.message}`));
    })();
    return cleaning;
  };
  process.on("exit", () => {
    for (const child of owned) if (child.exitCode === null && child.signalCode === null) killGroup(child.pid, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      interrupted = true;
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return {
    /** Runs `step` at clean-up. */
    onCleanup: (step) => steps.push(step),
    /** A detached child to stop at clean-up (and to SIGKILL at exit if still running). */
    own(child, graceMs) {
      owned.add(child);
      steps.push(async () => {
        await stopGroup(child, graceMs);
        owned.delete(child);
      });
    },
    disown: (child) => owned.delete(child),
    cleanup,
    interrupted: () => interrupted,
  };
}
