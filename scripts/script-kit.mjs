// What the measuring scripts (bench.mjs, load.mjs) share: free ports, and clean-ups that run whatever
// happens (Ctrl-C, an exception, a normal end), stopping detached children with their whole process group.
import { createServer } from "node:net";
import { killGroup, stopChild } from "../test/support/launch-stack.mjs";

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
    /**
     * A detached child to stop at clean-up with `stop` (default: SIGTERM to its group, SIGKILL after 10 s),
     * then to SIGKILL with whatever is left of its group; and to SIGKILL at exit if still running.
     */
    own(child, stop = () => stopChild(child, { group: true, graceMs: 10_000 })) {
      owned.add(child);
      steps.push(async () => {
        await stop();
        killGroup(child.pid);
        owned.delete(child);
      });
    },
    cleanup,
    interrupted: () => interrupted,
  };
}
