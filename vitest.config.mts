import { defineConfig } from "vitest/config";

// Groups run one after another (sequence.groupOrder), each project in a group of its own: the unit tests
// first (they are cheap), then the integration files against one shared stack; the fault suite kills
// processes and fills disks, the browser tests run Chromium, and the cloud tests package the service and
// run its functions. On a 2-core machine none of them may share the CPU with another. The projects that
// start stacks serve the functions bundled once in the run (global-functions.ts), not each its own.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // two files at a time even on 2 cores (vitest's default there is one): most of a unit file's time
          // is its worker's start and imports, or waiting (the sidecar's 10 idle seconds), not CPU
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // one real stack (npm start) for every file; files share its studio folder, so one at a time
          globalSetup: ["test/support/global-functions.ts", "test/support/global-stack.ts"],
          setupFiles: ["test/support/log-on-failure.ts"],
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 90_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          // faults, load and hostile input against stacks of their own
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          globalSetup: ["test/support/global-functions.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          // the packaged cloud template, and its functions run as the Lambda Node.js runtime runs them: packages
          // once (global-package.ts), no stack; last, since packaging and 16 runtimes load both cores
          name: "cloud",
          include: ["test/cloud/**/*.test.ts"],
          globalSetup: ["test/support/global-package.ts"],
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 4 },
        },
      },
      {
        test: {
          // the admin page in Debian's Chromium, driven by playwright-core
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/support/global-functions.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
