/**
 * "Verify files" in the tools: the sidecar reads back every file on disk whose catalog entry has a SHA256
 * and compares; the catalog then marks each checked row verified or damaged.
 */
import type { Api } from "./api";
import { countOf } from "./format";
import { Job, renderJob } from "./jobs";
import { announce, notices } from "./notices";
import type { JobProgress } from "./types";

const verifyWords = (progress: JobProgress): string => {
  const counts = `${progress.hashed} of ${countOf(progress.total, "file")} checked · ${progress.verified ?? 0} intact · ${progress.damaged ?? 0} damaged`;
  if (progress.status === "running") return `Verifying: ${counts}`;
  if (progress.status === "error") return `Verifying failed after ${counts}`;
  return progress.cancelled ? `Verifying cancelled: ${counts}` : `Verified: ${counts}`;
};

export interface VerifyContext {
  readonly api: Api;
  signal(): AbortSignal;
  refreshListing(): Promise<void>;
}

export class VerifyPanel {
  readonly #context: VerifyContext;
  readonly #job: Job;

  constructor(context: VerifyContext) {
    this.#context = context;
    this.#job = new Job(context.api, "api/admin/models/verify", (progress) => renderJob("verify", "Verifying the files on disk", progress, verifyWords));
  }

  /** On a new session: the last run's outcome, and one still running followed to its end. */
  async resume(): Promise<void> {
    const progress = await this.#job.follow(this.#context.signal());
    if (progress.status !== "idle") await this.#context.refreshListing();
  }

  async verify(): Promise<void> {
    const progress = await this.#job.start(this.#context.signal());
    // the rows' marks come with the listing
    await this.#context.refreshListing();
    if (progress.status === "error") notices.error(`Verifying failed: ${progress.error ?? "unknown error"}`);
    else if ((progress.damaged ?? 0) > 0) notices.error(`${countOf(progress.damaged ?? 0, "file")} damaged: the catalog marks ${progress.damaged === 1 ? "it" : "them"} “Damaged”`);
    else if (progress.status === "done" && !progress.cancelled) notices.info(progress.total > 0 ? `Verified ${countOf(progress.total, "file")}: all intact` : "No file on disk has a SHA256 in the catalog to check against");
    else announce(verifyWords(progress));
  }

  async cancel(): Promise<void> {
    await this.#job.cancel();
  }
}
