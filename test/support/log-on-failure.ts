/**
 * A failed integration test prints what the shared stack logged while it ran (its last 80 lines): on CI,
 * where the stack's folder is gone with the machine, that is the only trace of why an answer was a 5xx.
 */
import { open, stat } from "node:fs/promises";
import { afterEach, beforeEach, inject } from "vitest";

let from = 0;

beforeEach(async () => {
  from = await stat(inject("stack").logFile).then((info) => info.size, () => 0);
});

afterEach(async (context) => {
  if (context.task.result?.state !== "fail") return;
  const file = inject("stack").logFile;
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) return;
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - from));
    await handle.read(buffer, 0, buffer.length, from);
    const text = buffer.toString("utf8").trimEnd();
    const lines = text === "" ? [] : text.split("\n").slice(-80);
    console.log(`the stack's log during "${context.task.name}": ${lines.length === 0 ? "nothing" : `its last ${lines.length} lines\n${lines.join("\n")}`}`);
  } finally {
    await handle.close();
  }
});
