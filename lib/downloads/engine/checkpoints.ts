/**
 * A ranged download's progress saved while its ranges run, so that a crash costs at most the data since
 * the last checkpoint. A checkpoint syncs the part, then writes the control file: the control file never
 * claims a byte that is not on disk.
 */
import type { FileHandle } from "node:fs/promises";
import { saveControl, type Control } from "./control";

// What a crash can cost: the progress since the last checkpoint (and data not yet written), fetched again
// on resume. At 1 s, a sidecar killed every second or two fetched nearly twice the file (test/fault).
const CHECKPOINT_MS = 500;
// But a checkpoint syncs the part, and on a fast link that takes long (the page cache fills faster than
// the disk drains it): checkpoints then come further apart, so that syncing takes at most a tenth of the
// time. Every 500 ms regardless made a 2 GiB unthrottled download 1.5x slower (npm run bench).
const CHECKPOINT_SHARE = 0.1;

export class Checkpoints {
  readonly #handle: FileHandle;
  readonly #control: Control;
  readonly #controlFile: string;
  readonly #log: (line: string) => void;
  #saving: Promise<void> = Promise.resolve();
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(handle: FileHandle, control: Control, controlFile: string, log: (line: string) => void) {
    this.#handle = handle;
    this.#control = control;
    this.#controlFile = controlFile;
    this.#log = log;
  }

  start(): void {
    this.#next(CHECKPOINT_MS);
  }

  /** Stops the timer; saves once more when `saveLast` (not after a cancel), and waits for the saves. */
  async end(saveLast: boolean): Promise<void> {
    this.#ended = true;
    clearTimeout(this.#timer);
    if (saveLast) this.#save();
    await this.#saving;
  }

  #next(afterMs: number): void {
    this.#timer = setTimeout(() => {
      const started = Date.now();
      this.#save();
      void this.#saving.then(() => {
        if (!this.#ended) this.#next(Math.max(CHECKPOINT_MS, ((Date.now() - started) * (1 - CHECKPOINT_SHARE)) / CHECKPOINT_SHARE));
      });
    }, afterMs);
  }

  #save(): void {
    // a slow disk: the checkpoint waiting behind the running one will take the latest progress anyway
    if (this.#queued > 1) return;
    this.#queued += 1;
    this.#saving = this.#saving
      .then(() => this.#checkpoint())
      .catch((error: Error) => this.#log(`could not save progress: ${error.message}`))
      .finally(() => (this.#queued -= 1));
  }

  async #checkpoint(): Promise<void> {
    // snapshot first, sync second: the control file never claims a byte that is not on disk
    const control = this.#control;
    const snapshot: Control = { ...control, segments: control.segments.map((s) => ({ ...s })) };
    await this.#handle.datasync();
    await saveControl(this.#controlFile, snapshot);
  }
}
