/**
 * How many connections a download uses: as many as add throughput, no more. It starts with one and doubles
 * while each doubling brings a fifth more bytes per second (a server or CDN that limits each connection),
 * quadrupling once a doubling paid almost in full. When a step does not pay (the link or the disk is the
 * limit, as with any fast server), it goes back to the level before and stays there, trying a step up again
 * now and then in case the link changed. The first window is a warm-up, not measured.
 *
 * Pure: it is told the bytes so far and the time, and answers the number of connections wanted.
 */

/** A step up must bring at least this much more throughput to be kept. */
const GAIN = 1.2;
/** A step up that brought this much more throughput (of the 2x it could) makes the next step 4x. */
const LINEAR = 1.7;
/** After a step down, the next try up waits this long. */
const RETRY_UP_MS = 10_000;

export interface GovernorOptions {
  /** connections_per_file now (the settings can change it while the download runs): never more. */
  readonly max: () => number;
  /** How long each level is measured: long enough to hold a few round trips of the link. */
  readonly windowMs: number;
}

export class ConnectionGovernor {
  readonly #max: () => number;
  /** The max at the last update, and whether the governor settled there because of it (not for lack of gain). */
  #lastMax = 0;
  #atMax = false;
  readonly #windowMs: number;
  #wanted = 1;
  /** The level before the current one, and what it moved per ms; undefined at the first level. */
  #before: { level: number; rate: number } | undefined;
  /** The start of the measuring window: once every wanted connection is receiving. */
  #since: { at: number; bytes: number } | undefined;
  /** While settled: when to try a step up again. */
  #settledUntil = 0;
  /** The end of the warm-up window; undefined until the first window starts. */
  #warmUntil: number | undefined;

  constructor(options: GovernorOptions) {
    this.#max = options.max;
    this.#windowMs = options.windowMs;
  }

  get wanted(): number {
    return this.#wanted;
  }

  /**
   * Told, now and then, the time, the bytes received so far and how many connections are receiving;
   * answers how many are wanted. A window only starts once the wanted number are all receiving.
   */
  update(now: number, bytes: number, receiving: number): number {
    const max = Math.max(1, this.#max());
    if (max !== this.#lastMax) this.#newMax(max);
    if (now < this.#settledUntil) return this.#wanted;
    if (receiving < this.#wanted) {
      this.#since = undefined;
      return this.#wanted;
    }
    if (!this.#since) {
      // the first window of a download is its warm-up (the first requests, the code's first runs): it would
      // make one connection look slower than it is, and a second one look like a gain. The window after it
      // starts with the bytes of its own start: none of the warm-up's may count in it.
      this.#warmUntil ??= now + this.#windowMs;
      if (now >= this.#warmUntil) this.#since = { at: now, bytes };
      return this.#wanted;
    }
    if (now - this.#since.at < this.#windowMs) return this.#wanted;
    const rate = (bytes - this.#since.bytes) / (now - this.#since.at);
    this.#since = undefined;
    if (this.#before && rate < this.#before.rate * GAIN) {
      // this step did not pay: back to the level before, for a while
      this.#wanted = this.#before.level;
      this.#before = undefined;
      this.#atMax = false;
      this.#settledUntil = now + RETRY_UP_MS;
      return this.#wanted;
    }
    if (this.#wanted < max) {
      // a step that paid almost in full (each connection is held to its own rate): the next one is bigger
      const step = this.#before && rate >= this.#before.rate * LINEAR ? 4 : 2;
      this.#before = { level: this.#wanted, rate };
      this.#wanted = Math.min(max, this.#wanted * step);
    } else {
      this.#atMax = true;
      this.#before = undefined;
      this.#settledUntil = now + RETRY_UP_MS;
    }
    return this.#wanted;
  }

  /** A lower max holds at once; a higher one is tried at once when only the old max held the governor back. */
  #newMax(max: number): void {
    const raised = this.#lastMax !== 0 && max > this.#lastMax;
    this.#lastMax = max;
    if (this.#wanted > max) {
      this.#wanted = max;
      this.#before = undefined;
      this.#since = undefined;
      this.#atMax = true;
    } else if (raised && this.#atMax) {
      this.#atMax = false;
      this.#settledUntil = 0;
      this.#since = undefined;
    }
  }
}
