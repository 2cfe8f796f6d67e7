// CPU time, counted the same way for every tool: user + system seconds of the process that downloads.
// The sidecar's comes from /proc/<pid>/stat before and after a download; a reference's from bash's `times`.
import { readFileSync } from "node:fs";
import { BenchError, run, timed } from "./common.mjs";

let clockTicks;

/** Clock ticks per second, the unit of /proc/<pid>/stat's times (`getconf CLK_TCK`, nearly always 100). */
function clkTck() {
  clockTicks ??= Number(run("getconf", ["CLK_TCK"]).stdout.trim()) || 100;
  return clockTicks;
}

/**
 * user + system CPU seconds `pid` has used so far, all its threads together (fields 14 and 15 of
 * /proc/<pid>/stat; counted after the ")" that ends the command name, which may itself hold spaces).
 * Undefined when the process is gone.
 */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): utime (14) and stime (15) are fields[11] and fields[12]
    return (Number(fields[11]) + Number(fields[12])) / clkTck();
  } catch {
    return undefined;
  }
}

const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

/**
 * Runs `command args` through `bash -c '"$@"; times'` and resolves with what `timed` does, plus
 * `cpuSeconds`: the user + system time of bash's children, which is the command alone (curl, python and
 * aria2c start no process of their own). `times` prints the shell's own times on its first line and its
 * children's on the second; bash itself starts in about 2 ms, inside the wall-clock time but not the CPU.
 */
export async function timedWithCpu(command, args, options = {}) {
  const script = '"$@"; status=$?; times; exit $status';
  const result = await timed("bash", ["-c", script, "bench", command, ...args], options);
  const lines = result.stdout.trimEnd().split("\n");
  const children = TIMES_LINE.exec(lines.at(-1) ?? "");
  if (!children || !TIMES_LINE.test(lines.at(-2) ?? "")) {
    throw new BenchError(`${command}: bash's \`times\` printed no CPU times (got ${JSON.stringify(result.stdout.slice(-200))})`);
  }
  const [, um, us, sm, ss] = children.map(Number);
  return { ...result, stdout: lines.slice(0, -2).join("\n"), cpuSeconds: um * 60 + us + sm * 60 + ss };
}
