/**
 * Which bytes each connection fetches. The file is cut into pieces handed out from the front, so that the
 * finished part of the file grows from byte 0 and the SHA256 can follow it (hasher.ts); a connection that
 * reaches the end of its piece runs on into the next one when nobody has it, without a new request. When no
 * piece is left, an idle connection takes the second half of what the slowest one still has to fetch
 * (aria2c's "lowest speed" idea): the last bytes do not wait on one slow connection.
 *
 * Pure bookkeeping, no I/O: the segments are the control file's (control.ts), changed in place.
 */
import { segmentLength, type Segment } from "./control";

/** Small enough that eight connections keep close to the front, large enough that a new request is rare. */
export const PIECE_BYTES = 32 * 1024 * 1024;
/** Less than this left is not worth a new request to share. */
const MIN_STEAL_BYTES = 4 * 1024 * 1024;
/** The half a stealer takes is rounded up to this: whole pages for the disk when the victim's position is. */
const ALIGN = 64 * 1024;

/** `size` bytes as pieces of `pieceBytes` (the last one shorter), none fetched yet. */
export function pieces(size: number, pieceBytes = PIECE_BYTES): Segment[] {
  const segments: Segment[] = [];
  for (let start = 0; start < size; start += pieceBytes) segments.push({ start, end: Math.min(size, start + pieceBytes) - 1, done: 0 });
  return segments;
}

/** The segments with each run of finished neighbours made one: what a control file needs to say. */
export function compact(segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const segment of segments) {
    const last = out.at(-1);
    const full = (s: Segment) => s.done === segmentLength(s);
    if (last && full(last) && full(segment)) {
      last.end = segment.end;
      last.done += segment.done;
    } else out.push({ ...segment });
  }
  return out;
}

/** A connection's hold on a segment: where its data has got to, counting bytes not yet written. */
export interface Lease {
  readonly segment: Segment;
  /** The file position of the next byte this connection receives. */
  received: number;
  /** Bytes per second this connection has been getting; 0 while unknown. */
  rate: number;
}

export class RangeSchedule {
  readonly #segments: Segment[];
  readonly #leases = new Map<Segment, Lease>();

  constructor(segments: Segment[]) {
    this.#segments = segments;
  }

  /** Bytes from byte 0 on that are written: the part of the file a hash can read. */
  get prefix(): number {
    let end = 0;
    for (const segment of this.#segments) {
      if (segment.start !== end) break;
      end = segment.start + segment.done;
      if (segment.done < segmentLength(segment)) break;
    }
    return end;
  }

  /** True when every byte is written. */
  get complete(): boolean {
    return this.#segments.every((segment) => segment.done === segmentLength(segment));
  }

  /** True when `take` would find something: a piece nobody holds, or a remainder worth sharing. */
  get hasWork(): boolean {
    if (this.#segments.some((s) => !this.#leases.has(s) && s.done < segmentLength(s))) return true;
    for (const lease of this.#leases.values()) if (lease.segment.end + 1 - lease.received >= MIN_STEAL_BYTES) return true;
    return false;
  }

  /** The leases held now. */
  get leases(): IterableIterator<Lease> {
    return this.#leases.values();
  }

  /**
   * Work for an idle connection: the first piece nobody holds that has bytes left, else the second half of
   * the remainder that would take longest (slowest rate, most bytes); undefined when nothing is worth it.
   */
  take(): Lease | undefined {
    const free = this.#segments.find((s) => !this.#leases.has(s) && s.done < segmentLength(s));
    if (free) return this.#lease(free);
    return this.#steal();
  }

  /**
   * The piece that follows `lease`'s, when its connection may run on into it from the same response: it
   * starts where this one ends, nobody holds it, nothing of it is fetched. The old lease stays held until
   * its connection releases it, once its last bytes are written: until then nobody else may take them.
   */
  next(lease: Lease): Lease | undefined {
    const at = this.#segments.indexOf(lease.segment);
    const following = this.#segments[at + 1];
    if (!following || this.#leases.has(following) || following.done !== 0 || following.start !== lease.segment.end + 1) return undefined;
    const next = this.#lease(following);
    next.rate = lease.rate;
    return next;
  }

  release(lease: Lease): void {
    if (this.#leases.get(lease.segment) === lease) this.#leases.delete(lease.segment);
  }

  #lease(segment: Segment): Lease {
    const lease: Lease = { segment, received: segment.start + segment.done, rate: 0 };
    this.#leases.set(segment, lease);
    return lease;
  }

  /** Splits the lease with the longest time left; its connection stops at the new end of its segment. */
  #steal(): Lease | undefined {
    let victim: Lease | undefined;
    let longest = 0;
    for (const lease of this.#leases.values()) {
      const left = lease.segment.end + 1 - lease.received;
      if (left < MIN_STEAL_BYTES) continue;
      const time = left / Math.max(lease.rate, 1);
      if (time > longest) [victim, longest] = [lease, time];
    }
    if (!victim) return undefined;
    const { segment } = victim;
    const half = Math.ceil((segment.end + 1 - victim.received) / 2 / ALIGN) * ALIGN;
    const split = Math.min(segment.end, victim.received + half);
    if (split <= victim.received || split > segment.end) return undefined;
    const stolen: Segment = { start: split, end: segment.end, done: 0 };
    segment.end = split - 1;
    this.#segments.splice(this.#segments.indexOf(segment) + 1, 0, stolen);
    return this.#lease(stolen);
  }
}
