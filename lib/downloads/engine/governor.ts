/**
 * How many connections a download uses: as many as add throughput, no more. It starts with one and doubles
 * while each doubling brings a fifth more bytes per second (a server or CDN that limits each connection);
 * when one does not (the link or the disk is the limit, as with any fast server), it goes back to the level
 * before and stays there, trying one step up again now and then in case the link changed.
 *
 * Pure: it is told the bytes so far and the time, and answers the number of connections wanted.
 */

/** A step up must bring at least this much more throughput to be kept. */
const GAIN = 1.2;
/** After a step down, the next try up waits this long. */
const RETRY_UP_MS = 10_000;

export interface GovernorOptions {
  /** DOWNLOAD_CONNECTIONS: never more. */
  readonly max: number;
  /** How long each level is measured: long enough to hold a few round trips of the link. */
  readonly windowMs: number;
}

export class ConnectionGovernor {
  readonly #max: number;
  readonly #windowMs: number;
  #wanted = 1;
  /** The level before the current one, and what it moved per ms; undefined at the first level. */
  #before: { level: number; rate: number } | undefined;
  /** The start of the measuring window: once every wanted connection is receiving. */
  #since: { at: number; bytes: number } | undefined;
  /** While settled: when to try a step up again. */
  #settledUntil = 0;

  constructor(options: GovernorOptions) {
    this.#max = Math.max(1, options.max);
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
    if (now < this.#settledUntil) return this.#wanted;
    if (receiving < this.#wanted) {
      this.#since = undefined;
      return this.#wanted;
    }
    if (!this.#since) {
      this.#since = { at: now, bytes };
      return this.#wanted;
    }
    if (now - this.#since.at < this.#windowMs) return this.#wanted;
    const rate = (bytes - this.#since.bytes) / (now - this.#since.at);
    this.#since = undefined;
    if (this.#before && rate < this.#before.rate * GAIN) {
      // this step did not pay: back to the level before, for a while
      this.#wanted = this.#before.level;
      this.#before = undefined;
      this.#settledUntil = now + RETRY_UP_MS;
      return this.#wanted;
    }
    if (this.#wanted < this.#max) {
      this.#before = { level: this.#wanted, rate };
      this.#wanted = Math.min(this.#max, this.#wanted * 2);
    } else {
      this.#before = undefined;
      this.#settledUntil = now + RETRY_UP_MS;
    }
    return this.#wanted;
  }
}
