/**
 * Whether a lock that proper-lockfile took is still ours, asked right before a change is written.
 *
 * proper-lockfile keeps a lock by setting its folder's mtime every second; a waiter takes the lock over
 * once that mtime is older than the stale time, by removing the folder and making its own. The taker's
 * folder carries the taker's clock, more than the stale time past the last mtime we set, so the mtime
 * says whose the folder is. proper-lockfile is given an fs (`fs` below) through which this notes every
 * mtime we set, and which never removes a folder that is no longer ours (a holder that stalled would
 * otherwise release the lock of the process that took it over).
 *
 * proper-lockfile's own "compromised" callback is not enough: it runs from a timer, and a process that
 * was stopped (SIGSTOP, a frozen Lambda) runs its pending work before its late timers.
 */
import fs from "node:fs";
import { stat } from "node:fs/promises";
import { performance } from "node:perf_hooks";

export class LockLostError extends Error {}

type Callback = (error: NodeJS.ErrnoException | null) => void;

export class LockOwnership {
  readonly #dir: string;
  readonly #maxAgeMs: number;
  /** The mtimes we set on the folder: the last one that took, and the one on its way, if any. */
  #set: number | undefined;
  #pending: number | undefined;
  /** When (performance.now()) the last one took. */
  #renewedAt = 0;
  #lost: Error | undefined;

  /** `dir` is the lock folder; a change is written only while our last renewal of it is under `maxAgeMs` old. */
  constructor(dir: string, maxAgeMs: number) {
    this.#dir = dir;
    this.#maxAgeMs = maxAgeMs;
  }

  /** proper-lockfile said it lost the lock (its timer saw the folder gone or another's). */
  lost(error: Error): void {
    this.#lost = error;
  }

  get wasLost(): boolean {
    return this.#lost !== undefined;
  }

  /** Resolves when the lock is ours, fresh enough that nobody may take it over for a while; throws LockLostError if not. */
  async assertHeld(): Promise<void> {
    if (this.#lost) throw new LockLostError(`its lock was lost (${this.#lost.message})`);
    const folder = await stat(this.#dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (!folder || !this.#isOurs(folder.mtime.getTime())) throw new LockLostError("its lock was taken over by another writer");
    const age = performance.now() - this.#renewedAt;
    if (age > this.#maxAgeMs) throw new LockLostError(`its lock was last renewed ${(age / 1000).toFixed(1)} s ago, too close to going stale`);
  }

  /** assertHeld as a yes or no. */
  isHeld(): Promise<boolean> {
    return this.assertHeld().then(
      () => true,
      (error: unknown) => {
        if (error instanceof LockLostError) return false;
        throw error;
      },
    );
  }

  /** A filesystem may keep only whole seconds of what we set (and rounds down): ours is within the second below it. */
  #isOurs(mtime: number): boolean {
    return [this.#set, this.#pending].some((set) => set !== undefined && mtime <= set && mtime > set - 1000);
  }

  /** The fs for proper-lockfile (its documented `fs` option): node's, but for the three calls on our lock folder. */
  readonly fs = {
    ...fs,
    utimes: (target: string, atime: Date, mtime: Date, callback: Callback): void => {
      if (target !== this.#dir) return fs.utimes(target, atime, mtime, callback);
      // noted before the call: a release racing with a renewal still knows the folder as ours
      this.#pending = mtime.getTime();
      fs.utimes(target, atime, mtime, (error) => {
        if (!error) {
          this.#set = mtime.getTime();
          this.#renewedAt = performance.now();
        }
        this.#pending = undefined;
        callback(error);
      });
    },
    rmdir: (target: string, callback: Callback): void => {
      // before we ever set an mtime, proper-lockfile removes only stale folders of others, to take them over
      if (target !== this.#dir || this.#set === undefined) return fs.rmdir(target, callback);
      fs.stat(target, (error, folder) => {
        if (error) return callback(error);
        if (!this.#isOurs(folder.mtime.getTime())) return callback(null);
        fs.rmdir(target, callback);
      });
    },
    rmdirSync: (target: string): void => {
      // proper-lockfile's clean-up at exit
      if (target === this.#dir && this.#set !== undefined && !this.#isOurs(fs.statSync(target).mtime.getTime())) return;
      fs.rmdirSync(target);
    },
  };
}
