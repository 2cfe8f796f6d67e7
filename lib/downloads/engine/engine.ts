/**
 * One model download: `.part` + control file beside the target, several ranges at once when the server
 * takes them, resumable after any crash, checked for size and SHA256, then synced and renamed into place.
 * The parts: probe.ts reads the first answer, transfer.ts moves the bytes (over connection.ts, schedule.ts,
 * governor.ts, writer.ts, hasher.ts, checkpoints.ts), retry.ts says what is retried, finish.ts verifies and
 * renames; this file decides what happens in which order: probe, resume or start over, room on disk, finish.
 */
import { constants } from "node:fs";
import { lstat, mkdir, open, rm, stat, statfs, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { controlPath, partPath, removePartial } from "../../catalog/partial";
import { removeStrayTemps } from "../../fs/atomic-write";
import { bytesDone, loadControl, saveControl, type Control, type Segment } from "./control";
import { diskFullError, gib, isDiskFull, PART_FLAGS } from "./disk";
import { asDownloadError, CancelledError, DownloadError } from "./errors";
import { finish } from "./finish";
import { PrefixHasher } from "./hasher";
import { openDownload } from "./http";
import type { DownloadJob, DownloadResult } from "./job";
import { describeProbe, validatorChanged, type Probe } from "./probe";
import { downloadPolicy, retryingDownload } from "./retry";
import { pieces } from "./schedule";
import { transfer } from "./transfer";

export type { DownloadJob, DownloadResult };

export class Download {
  readonly #job: DownloadJob;
  readonly #part: string;
  readonly #controlFile: string;
  #done = 0;
  #total = 0;
  #releaseRoom: () => void = () => undefined;

  constructor(job: DownloadJob) {
    this.#job = job;
    this.#part = partPath(job.target);
    this.#controlFile = controlPath(job.target);
  }

  /** Bytes on disk so far (resumed ones included) and the size, 0 while unknown. */
  get progress(): { done: number; total: number } {
    return { done: this.#done, total: this.#total };
  }

  async run(): Promise<DownloadResult> {
    try {
      return await this.#run();
    } finally {
      this.#releaseRoom();
    }
  }

  async #run(): Promise<DownloadResult> {
    await mkdir(path.dirname(this.#job.target), { recursive: true });
    for (let restarts = 1; ; restarts++) {
      try {
        return await this.#attempt();
      } catch (error) {
        const failure = asDownloadError(error);
        if (!(failure instanceof DownloadError && failure.restart) || restarts >= this.#job.maxAttempts) throw failure;
        this.#job.log(`${failure.message}; starting over from byte 0`);
        await removePartial(this.#job.target);
        await sleep(this.#job.retryBaseMs * (0.5 + Math.random() / 2), undefined, { signal: this.#job.signal }).catch(() => {
          throw new CancelledError();
        });
      }
    }
  }

  async #attempt(): Promise<DownloadResult> {
    const job = this.#job;
    // a sidecar killed while it saved progress leaves a temp file beside the control file
    await removeStrayTemps(this.#controlFile);
    let control = await loadControl(this.#controlFile, job.source.key, job.log);
    // a claim is only as good as the data beside it: no `.part` of the full size, nothing to continue
    const partSize = (await lstat(this.#part).catch(() => undefined))?.size;
    if (control && partSize !== control.size) control = undefined;
    const probe = await this.#retrying(
      () => 0,
      async () => {
        const asked = Date.now();
        const opened = await openDownload(job.source, { range: { start: 0 }, signal: job.signal }, job.hasCivitaiKey);
        return describeProbe(opened, Date.now() - asked);
      },
    );
    const { opened } = probe;
    try {
      const contentType = opened.res.headers["content-type"];
      if (contentType !== undefined && /text\/html/i.test(contentType)) {
        throw new DownloadError(`Got an HTML page instead of the model from ${job.source.label} (a login or error page?)`);
      }
      if (control && (control.size !== probe.size || validatorChanged(control, probe))) {
        job.log("the upstream file changed since the partial download; starting over");
        control = undefined;
      }
      const sha256 = job.sha256?.toLowerCase() ?? opened.linkedSha256;
      if (probe.size !== undefined) await this.#checkSpace(probe.size - (control ? bytesDone(control) : 0));

      if (!probe.ranges || probe.size === undefined) {
        if (control) job.log("the server does not resume (no byte ranges); starting over");
        return await this.#whole(probe, sha256).catch((error: unknown) => this.#diskFull(error, false));
      }
      return await this.#ranged(probe, control, sha256).catch((error: unknown) => this.#diskFull(error, true));
    } finally {
      // handed on to the first range, or not needed: either way its socket is not left open
      opened.res.destroy();
    }
  }

  /**
   * Fails before the first byte when `need` does not fit in what is free less what the other downloads
   * on this filesystem have yet to write; else claims `need` until the download ends.
   */
  async #checkSpace(need: number): Promise<void> {
    this.#releaseRoom();
    const dir = path.dirname(this.#job.target);
    const [fs, { dev }] = await Promise.all([statfs(dir), stat(dir)]);
    const free = fs.bavail * fs.bsize;
    const others = this.#job.room.claimedOn(dev);
    const have = Math.max(0, free - others.bytes);
    if (have < need) {
      const promised =
        others.downloads > 0 ? ` (${gib(free)} free, ${gib(others.bytes)} of it still to come for ${others.downloads} other download${others.downloads === 1 ? "" : "s"} in progress)` : "";
      throw new DownloadError(`Not enough disk space: need ${gib(need)}, have ${gib(have)}${promised}`);
    }
    // until the size is known (#ranged, #whole set it), the need stands for what is to come
    this.#releaseRoom = this.#job.room.stake({ device: dev, outstanding: () => (this.#total > 0 ? this.#total - this.#done : need) });
  }

  /**
   * The disk filled up on the way (the size was unknown, or something else took the room): said in words,
   * with what became of the partial. A stream's cannot be continued and goes, so that it does not keep the
   * disk full; ranges' are kept, and resume once there is room and the model is queued again.
   */
  async #diskFull(error: unknown, resumable: boolean): Promise<never> {
    if (!isDiskFull(error)) throw error;
    if (!resumable) await removePartial(this.#job.target);
    throw diskFullError(error, path.dirname(this.#job.target), this.#done, this.#total, resumable);
  }

  /** A server without byte ranges: one stream from the start; a broken one can only be started again. */
  async #whole(probe: Probe, sha256: string | undefined): Promise<DownloadResult> {
    // nothing of a stream can be continued: no control file may claim what is in the part
    await rm(this.#controlFile, { force: true });
    const handle = await open(this.#part, PART_FLAGS | constants.O_TRUNC, 0o644);
    const hasher = new PrefixHasher(this.#part);
    try {
      this.#total = probe.size ?? 0;
      this.#done = 0;
      const segment: Segment = { start: 0, end: (probe.size ?? Number.MAX_SAFE_INTEGER) - 1, done: 0 };
      await this.#transfer(probe, [segment], handle, hasher, undefined).catch((error: unknown) => {
        const failure = asDownloadError(error);
        if (failure instanceof DownloadError && failure.retryable) {
          throw new DownloadError(failure.message, { retryable: true, restart: true, cause: error });
        }
        throw failure;
      });
      this.#total = segment.done;
      return await this.#finish(handle, segment.done, 0, sha256, hasher);
    } finally {
      hasher.close();
      await handle.close().catch(() => undefined);
    }
  }

  async #ranged(probe: Probe, resumed: Control | undefined, sha256: string | undefined): Promise<DownloadResult> {
    const job = this.#job;
    const size = probe.size as number;
    const control: Control = resumed ?? {
      version: 1,
      key: job.source.key,
      size,
      ...(probe.etag !== undefined && { etag: probe.etag }),
      ...(probe.lastModified !== undefined && { lastModified: probe.lastModified }),
      segments: pieces(size),
    };
    const handle = await open(this.#part, PART_FLAGS | (resumed ? 0 : constants.O_TRUNC), 0o644);
    const hasher = new PrefixHasher(this.#part);
    try {
      const resumedFrom = bytesDone(control);
      this.#total = size;
      this.#done = resumedFrom;
      if (resumed) job.log(`resuming at ${gib(resumedFrom)} of ${gib(size)}`);
      else await handle.truncate(size);
      await saveControl(this.#controlFile, control);
      await this.#transfer(probe, control.segments, handle, hasher, control);
      return await this.#finish(handle, size, resumedFrom, sha256, hasher);
    } finally {
      hasher.close();
      await handle.close().catch(() => undefined);
    }
  }

  /** Moves the bytes of `segments` into the file (transfer.ts), counting what is written. */
  #transfer(probe: Probe, segments: Segment[], handle: FileHandle, hasher: PrefixHasher, control: Control | undefined): Promise<void> {
    return transfer({
      job: this.#job,
      probe,
      segments,
      handle,
      hasher,
      control,
      controlFile: this.#controlFile,
      onWritten: (bytes) => (this.#done += bytes),
      written: () => this.#done,
    });
  }

  /** Runs `work` under the shared retry policy (lib/net/retry.ts), with this download's settings and failures (retry.ts). */
  #retrying<T>(progressOf: () => number, work: () => Promise<T>, signal = this.#job.signal): Promise<T> {
    return retryingDownload(downloadPolicy(this.#job), work, progressOf, signal);
  }

  #finish(handle: FileHandle, size: number, resumedFrom: number, expected: string | undefined, hasher: PrefixHasher): Promise<DownloadResult> {
    const { target, source, signal } = this.#job;
    return finish(handle, { target, size, resumedFrom, expected, hasher, label: source.label, signal });
  }
}
