import { rename } from "node:fs/promises";
import type { z } from "zod";
import { writeFileAtomic } from "../fs/atomic-write";
import { withFileLock } from "../fs/lock";
import { readTextIfExists } from "../fs/read-text";

/**
 * A JSON file in the state folder that several processes change: read without a lock (it is only ever
 * replaced whole, so a reader never sees half of it), changed under one lock, written atomically. A corrupt
 * file is moved aside (`<file>.corrupt-<time>`), logged, and started afresh: nothing else is lost.
 */
export interface StateChange<R> {
  readonly result: R;
  readonly changed: boolean;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

function parse<T>(text: string, schema: z.ZodType<T>): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: `not of the expected shape (${parsed.error.message})` };
}

export class JsonState<T> {
  readonly #file: () => string;
  readonly #schema: z.ZodType<T>;
  readonly #empty: () => T;

  constructor(file: () => string, schema: z.ZodType<T>, empty: () => T) {
    this.#file = file;
    this.#schema = schema;
    this.#empty = empty;
  }

  /** The state as it is now; a corrupt file reads as empty here, and the next writer moves it aside. */
  async read(): Promise<T> {
    const text = await readTextIfExists(this.#file());
    if (text === undefined) return this.#empty();
    const parsed = parse(text, this.#schema);
    return parsed.ok ? parsed.value : this.#empty();
  }

  /** Read-modify-write under the lock: `change` mutates the state in place and says whether it did. */
  async update<R>(change: (state: T, now: number) => StateChange<R>): Promise<R> {
    const file = this.#file();
    return withFileLock(file, async () => {
      const text = await readTextIfExists(file);
      let state = this.#empty();
      let repaired = false;
      if (text !== undefined) {
        const parsed = parse(text, this.#schema);
        if (parsed.ok) {
          state = parsed.value;
        } else {
          const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
          await rename(file, aside);
          console.error(`${file} was ${parsed.reason}; moved it to ${aside} and started a new one`);
          repaired = true;
        }
      }
      const { result, changed } = change(state, Date.now());
      if (changed || repaired) await writeFileAtomic(file, JSON.stringify(state));
      return result;
    });
  }
}
