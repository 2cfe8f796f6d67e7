/**
 * A JSON file in the state folder that several processes change: read without a lock (it is only ever
 * replaced whole, so a reader never sees half of it), changed under one lock, written atomically. A corrupt
 * file is moved aside (`<file>.corrupt-<time>`), logged, and started afresh from what of it still makes
 * sense (`salvage`: the entries of the expected shape, when it is JSON at all): nothing else is lost.
 */
import { constants } from "node:fs";
import { copyFile } from "node:fs/promises";
import type { z } from "zod";
import { corruptAside } from "../fs/corrupt-aside";
import { withFileLock } from "../fs/lock";
import { readTextIfExists } from "../fs/read-text";

export interface StateChange<R> {
  readonly result: R;
  readonly changed: boolean;
}

/** What can be kept of a document that is JSON but not of the expected shape; undefined for nothing. */
export type Salvage<T> = (json: unknown) => T | undefined;

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; salvaged: T | undefined };

function parse<T>(text: string, schema: z.ZodType<T>, salvage: Salvage<T> | undefined): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})`, salvaged: undefined };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : "";
  return { ok: false, reason: `not of the expected shape (${problems.slice(0, 3).join("; ")}${more})`, salvaged: salvage?.(json) };
}

export class JsonState<T> {
  readonly #file: string;
  readonly #schema: z.ZodType<T>;
  readonly #empty: () => T;
  readonly #salvage: Salvage<T> | undefined;

  constructor(file: string, schema: z.ZodType<T>, empty: () => T, salvage?: Salvage<T>) {
    this.#file = file;
    this.#schema = schema;
    this.#empty = empty;
    this.#salvage = salvage;
  }

  /** The state as it is now; a corrupt file reads as what can be salvaged of it, and the next writer moves it aside. */
  async read(): Promise<T> {
    return (await this.inspect()).value;
  }

  /** The state as `read` gives it, and whether the file is corrupt (the next write, changed or not, repairs it). */
  async inspect(): Promise<{ value: T; corrupt: boolean }> {
    const text = await readTextIfExists(this.#file);
    if (text === undefined) return { value: this.#empty(), corrupt: false };
    const parsed = parse(text, this.#schema, this.#salvage);
    return parsed.ok ? { value: parsed.value, corrupt: false } : { value: parsed.salvaged ?? this.#empty(), corrupt: true };
  }

  /**
   * Read-modify-write under the lock: `change` mutates the state in place and says whether it did. It may
   * run again on a fresh read when the lock was lost before the write (withFileLock): no other effects.
   */
  async update<R>(change: (state: T, now: number) => StateChange<R>): Promise<R> {
    const file = this.#file;
    return withFileLock(file, async (lease) => {
      const text = await readTextIfExists(file);
      let state = this.#empty();
      let repaired = false;
      if (text !== undefined) {
        const parsed = parse(text, this.#schema, this.#salvage);
        if (parsed.ok) {
          state = parsed.value;
        } else {
          const aside = corruptAside(file);
          // a copy, not a rename: until the new file replaces it, readers find the old one, never none
          await copyFile(file, aside, constants.COPYFILE_EXCL);
          const kept = parsed.salvaged === undefined ? "started a new one" : "started a new one with the entries that were still good";
          console.error(`${file} was ${parsed.reason}; moved it to ${aside} and ${kept}`);
          state = parsed.salvaged ?? state;
          repaired = true;
        }
      }
      const { result, changed } = change(state, Date.now());
      if (changed || repaired) await lease.write(JSON.stringify(state));
      return result;
    });
  }
}
