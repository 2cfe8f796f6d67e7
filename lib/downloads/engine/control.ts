/**
 * The control file beside a `.part`: which upstream file it holds, its validators, and how far each
 * byte range has got. It only ever claims bytes whose writes had completed (and were synced) before it
 * was written, so a crash at any instant loses at most the last few seconds of progress.
 */
import { readFile, rename } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { corruptAside } from "../../fs/corrupt-aside";
import { writeFileAtomic } from "../../fs/atomic-write";

export const Segment = z.object({
  start: z.number().int().nonnegative(),
  /** Inclusive. */
  end: z.number().int().nonnegative(),
  done: z.number().int().nonnegative(),
});
export type Segment = z.infer<typeof Segment>;

export const Control = z.object({
  version: z.literal(1),
  key: z.string(),
  size: z.number().int().positive(),
  etag: z.string().optional(),
  lastModified: z.string().optional(),
  segments: z.array(Segment).min(1),
});
export type Control = z.infer<typeof Control>;

export const segmentLength = (segment: Segment): number => segment.end - segment.start + 1;
export const bytesDone = (control: Control): number => control.segments.reduce((sum, s) => sum + s.done, 0);

/**
 * The control file if it describes a download of `key` that can be continued. One of another download
 * is ignored; a corrupt one (a crash mid-write cannot make one, a person or a bad disk can) is moved
 * aside as `<file>.corrupt-<time>` and logged, and the download starts over.
 */
export async function loadControl(file: string, key: string, log: (line: string) => void = () => undefined): Promise<Control | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  const problem = corruption(text);
  if (typeof problem === "string") {
    const aside = corruptAside(file);
    await rename(file, aside).catch(() => undefined);
    log(`the control file ${path.basename(file)} was ${problem}; moved it to ${path.basename(aside)} and started over`);
    return undefined;
  }
  return problem.key === key ? problem : undefined;
}

/** The control in `text`, or what is wrong with it. */
function corruption(text: string): Control | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const parsed = Control.safeParse(json);
  if (!parsed.success) return "not a control file";
  const control = parsed.data;
  const consistent = control.segments.every((s) => s.end >= s.start && s.done <= segmentLength(s) && s.end < control.size);
  return consistent ? control : "inconsistent (a range beyond the file, or more done than it holds)";
}

export const saveControl = (file: string, control: Control): Promise<void> =>
  writeFileAtomic(file, JSON.stringify(control));
