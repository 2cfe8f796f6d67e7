/**
 * A running download's progress as the status file shows it: bytes, size, a smoothed speed and a
 * percent. The speed is sampled every time the sidecar looks, written or not, so that a download that
 * stalls shows its speed falling to 0; and the figures are written only when one of them changed, so that
 * a stalled download (or none) leaves the status file alone.
 */
export interface Figures {
  readonly bytes_downloaded: number;
  readonly bytes_total: number;
  readonly speed: number;
  readonly percent: number;
}

/** Samples closer together than this say more about timer jitter than about speed. */
const MIN_SAMPLE_MS = 250;

const same = (a: Figures, b: Figures): boolean =>
  a.bytes_downloaded === b.bytes_downloaded && a.bytes_total === b.bytes_total && a.speed === b.speed && a.percent === b.percent;

export class Progress {
  #sampleAt: number;
  /** Bytes at the last sample; undefined until the first, so that resumed bytes never count as speed. */
  #sampleBytes: number | undefined;
  #speed = 0;
  #written: Figures | undefined;

  constructor(startedAt: number) {
    this.#sampleAt = startedAt;
  }

  /** Takes in `done` bytes at `now`: the speed moves at most every MIN_SAMPLE_MS. */
  sample(done: number, now: number): void {
    const seconds = (now - this.#sampleAt) / 1000;
    if (this.#sampleBytes === undefined) {
      this.#sampleAt = now;
      this.#sampleBytes = done;
    } else if (seconds * 1000 >= MIN_SAMPLE_MS) {
      const instant = Math.max(0, done - this.#sampleBytes) / seconds;
      // smoothed, so that the figure a person watches does not jump about
      this.#speed = this.#speed === 0 ? instant : 0.5 * this.#speed + 0.5 * instant;
      this.#sampleAt = now;
      this.#sampleBytes = done;
    }
  }

  /** The figures for `done` of `total` bytes, at the speed of the last sample. */
  figures(done: number, total: number): Figures {
    return {
      bytes_downloaded: done,
      bytes_total: total,
      speed: Math.round(this.#speed),
      percent: total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : 0,
    };
  }

  /** Whether `figures` say something the status file has not been told yet. */
  isNews(figures: Figures): boolean {
    return this.#written === undefined || !same(figures, this.#written);
  }

  /** Notes that `figures` are in the status file now. */
  wrote(figures: Figures): void {
    this.#written = figures;
  }
}
