/**
 * The room on disk that downloads in progress have yet to take. A download that starts beside them has to
 * fit in what is free less that: else three 20 GiB downloads on 50 GiB free would all pass the check, and
 * the last would fail at 10 GiB with its disk full. Downloads run in the one sidecar, whose download queue
 * holds the one DiskRoom and hands it to each download; it counts per filesystem (st_dev): the models
 * folders may be on several.
 */
export interface Claim {
  /** The bytes it has yet to write. */
  readonly outstanding: () => number;
  readonly device: number;
}

export class DiskRoom {
  readonly #claims = new Set<Claim>();

  /** What the downloads on `device` have yet to write, and how many of them have anything left to write. */
  claimedOn(device: number): { bytes: number; downloads: number } {
    let bytes = 0;
    let downloads = 0;
    for (const claim of this.#claims) {
      if (claim.device !== device) continue;
      const outstanding = Math.max(0, claim.outstanding());
      if (outstanding === 0) continue;
      bytes += outstanding;
      downloads += 1;
    }
    return { bytes, downloads };
  }

  /** Holds `claim` until the returned release is called. */
  stake(claim: Claim): () => void {
    this.#claims.add(claim);
    return () => void this.#claims.delete(claim);
  }
}
