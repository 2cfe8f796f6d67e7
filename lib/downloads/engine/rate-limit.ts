/**
 * The bandwidth cap: one budget for every connection of every download of the sidecar, a token bucket kept
 * as the time by which the bytes taken so far are paid for (`#paidAt`). A connection takes what it just
 * received and, when the budget is spent, pauses its response for as long as the answer says; the takers
 * queue behind each other in the order they took, so each one (and each download) keeps moving. The burst is
 * small: 100 ms of the rate, at least 64 KiB. The rate changes live: the debt is repaid at the new rate, and
 * the waiting connections' timers are moved to match.
 *
 * Without a cap it costs the data path one property read per chunk (`limited`): no clock, no timer.
 */

/** The burst: this much of the rate may pass at once after a quiet moment... */
const BURST_MS = 100;
/** ...and at least this many bytes (a socket's read). */
const MIN_BURST_BYTES = 64 * 1024;

/** A taker waiting for the budget: woken once it is paid for. */
export interface Waiter {
  due: number;
  readonly wake: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class RateLimiter {
  #rate: number | null = null;
  /** When the bytes taken so far are paid for, in ms (Date.now's clock). */
  #paidAt = 0;
  readonly #waiters = new Set<Waiter>();

  /** True while there is a cap: then every chunk is taken from the budget. */
  get limited(): boolean {
    return this.#rate !== null;
  }

  /** The cap in bytes per second; null for none. */
  get rate(): number | null {
    return this.#rate;
  }

  set rate(value: number | null) {
    const old = this.#rate;
    if (value === old) return;
    if (value !== null && !(value > 0)) throw new RangeError(`A rate must be positive, not ${value}`);
    this.#rate = value;
    const now = Date.now();
    if (old === null || value === null) {
      this.#paidAt = 0;
      for (const waiter of this.#waiters) this.#arm(waiter, now);
      return;
    }
    // what is owed was counted at the old rate: it is repaid at the new one, and the waiters with it
    const scale = old / value;
    if (this.#paidAt > now) this.#paidAt = now + (this.#paidAt - now) * scale;
    for (const waiter of this.#waiters) {
      waiter.due = now + Math.max(0, waiter.due - now) * scale;
      this.#arm(waiter, now);
    }
  }

  /**
   * Takes `bytes` (already received) from the budget; answers how long, in ms, the taker should wait before
   * it reads more: 0 to go on. Always 0 without a cap.
   */
  take(bytes: number): number {
    const rate = this.#rate;
    if (rate === null) return 0;
    const now = Date.now();
    const burstMs = Math.max(BURST_MS, (MIN_BURST_BYTES * 1000) / rate);
    this.#paidAt = Math.max(this.#paidAt, now - burstMs) + (bytes * 1000) / rate;
    return Math.max(0, this.#paidAt - now);
  }

  /** Calls `wake` after `ms` (moved along when the rate changes meanwhile); `cancel` forgets it. */
  wait(ms: number, wake: () => void): Waiter {
    const waiter: Waiter = { due: Date.now() + ms, wake, timer: undefined };
    this.#waiters.add(waiter);
    this.#arm(waiter, Date.now());
    return waiter;
  }

  cancel(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#waiters.delete(waiter);
  }

  /** The waiters now: a connection paused by the cap is one. */
  get waiting(): number {
    return this.#waiters.size;
  }

  #arm(waiter: Waiter, now: number): void {
    clearTimeout(waiter.timer);
    // without a cap any more, everyone goes on at once
    const ms = this.#rate === null ? 0 : Math.max(0, waiter.due - now);
    waiter.timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      waiter.wake();
    }, ms);
  }
}
