/**
 * A ranged download's progress, saved while it runs, and its data pushed to disk on the way. A checkpoint
 * takes a snapshot of the ranges, syncs the part file, then writes the control file: the control file never
 * claims a byte that is not on disk. Checkpoints come every CHECKPOINT_BYTES written or CHECKPOINT_MS, one at
 * a time; one asked for while another runs is run once right after, with the progress of then (the latest
 * state wins, as in steno). Syncing as it goes keeps the disk writing during the transfer, so the sync before
 * the rename has little left, and the kernel never piles up gigabytes of dirty pages to write at the end.
 */
import type { FileHandle } from "node:fs/promises";
import { saveControl, type Control } from "./control";
import { compact } from "./schedule";

/** What a crash can cost on a slow link: the progress since the last checkpoint, fetched again on resume. */
export const CHECKPOINT_MS = 500;
/** On a fast link: about what this disk writes back in a fraction of a second. */
export const CHECKPOINT_BYTES = 64 * 1024 * 1024;

export interface CheckpointTarget {
  readonly handle: Pick<FileHandle, "datasync">;
  /** The progress to save; without one (a stream that cannot be resumed) a checkpoint only syncs. */
  readonly control: Control | undefined;
  readonly file: string;
  readonly log: (line: string) => void;
  /** Writes the control file; saveControl unless a test wants to watch. */
  readonly save?: (file: string, control: Control) => Promise<void>;
}

export class Checkpointer {
  readonly #target: CheckpointTarget;
  #running: Promise<void> | undefined;
  #again = false;
  #lastAt = Date.now();
  #lastBytes = 0;

  constructor(target: CheckpointTarget) {
    this.#target = target;
  }

  /** Called as data is written (`bytes` so far): checkpoints when enough was written or enough time passed. */
  written(bytes: number, now = Date.now()): void {
    if (bytes === this.#lastBytes) return;
    if (bytes - this.#lastBytes >= CHECKPOINT_BYTES || now - this.#lastAt >= CHECKPOINT_MS) this.request(bytes, now);
  }

  /** Asks for a checkpoint now: it runs at once, or right after the one running. */
  request(bytes = this.#lastBytes, now = Date.now()): void {
    this.#lastAt = now;
    this.#lastBytes = bytes;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop();
  }

  /** Waits for the checkpoints asked for; with `saveLast`, takes one more with the final progress. */
  async end(saveLast: boolean): Promise<void> {
    if (saveLast) this.request();
    await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#checkpoint().catch((error: Error) => this.#target.log(`could not save progress: ${error.message}`));
    } while (this.#again);
    this.#running = undefined;
  }

  async #checkpoint(): Promise<void> {
    const { handle, control, file, save = saveControl } = this.#target;
    // snapshot first, sync second: the control file never claims a byte that is not on disk
    const snapshot: Control | undefined = control && { ...control, segments: compact(control.segments) };
    await handle.datasync();
    if (snapshot) await save(file, snapshot);
  }
}
