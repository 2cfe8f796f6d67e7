import { describe, expect, it } from "vitest";
import { backoffMs, GaveUpError, retrying, type RetryOptions, type RetryPolicy } from "../../../lib/net/retry";

/**
 * The one retry policy of downloads and metadata: how long it waits, when it gives up, what a try that
 * moved the work on and a cancel do to it. The waits are the pure backoffMs, checked with a fixed random.
 */

const ALWAYS: RetryOptions["classify"] = (error) => ({ message: (error as Error).message });

/** A work whose tries fail with these errors in turn, then answer "done"; `calls` counts the tries. */
function failing(...errors: Error[]): { work: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    work: async () => {
      const error = errors[calls++];
      if (error) throw error;
      return "done";
    },
    calls: () => calls,
  };
}

/** The error a promise rejects with (a test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (error: unknown) => error,
  );
}

const errors = (...messages: string[]) => messages.map((message) => new Error(message));

describe("backoffMs", () => {
  const policy = { baseMs: 1_000 };

  it("doubles from the base with each retry, times a jitter between 1/2 and 1", () => {
    expect([1, 2, 3, 4].map((attempt) => backoffMs(attempt, policy, undefined, () => 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map((attempt) => backoffMs(attempt, policy, undefined, () => 0.5))).toEqual([750, 1_500, 3_000, 6_000]);
    expect(backoffMs(3, policy, undefined, () => 0.999)).toBeCloseTo(3_998, 6);
  });

  it("never grows past 30 s on its own, however many tries failed", () => {
    expect(backoffMs(6, policy, undefined, () => 0.999)).toBeCloseTo(29_985, 6);
    expect(backoffMs(40, policy, undefined, () => 0)).toBe(15_000);
  });

  it("waits as long as a Retry-After asks when that is longer, and the back-off when that is", () => {
    expect(backoffMs(1, policy, 10_000, () => 0)).toBe(10_000);
    expect(backoffMs(4, policy, 1_000, () => 0)).toBe(4_000);
  });

  it("caps a Retry-After at 5 minutes, or at the policy's own cap", () => {
    expect(backoffMs(1, policy, 3_600_000, () => 0)).toBe(300_000);
    expect(backoffMs(1, { baseMs: 2_000, maxWaitMs: 60_000 }, 120_000, () => 0)).toBe(60_000);
  });
});

describe("retrying", () => {
  const quick: RetryPolicy = { maxAttempts: 3, baseMs: 1 };

  it("answers what the work answers once a try succeeds", async () => {
    const { work, calls } = failing(...errors("reset", "reset"));

    expect(await retrying(quick, work, { classify: ALWAYS })).toBe("done");
    expect(calls()).toBe(3);
  });

  it("gives up after maxAttempts tries in all, with the last failure's message", async () => {
    const { work, calls } = failing(...errors("reset", "HTTP 503", "HTTP 502", "never reached"));

    const error = await rejection(retrying(quick, work, { classify: ALWAYS }));

    expect(error).toBeInstanceOf(GaveUpError);
    expect((error as GaveUpError).message).toBe("Gave up after 3 tries: HTTP 502");
    expect((error as GaveUpError).attempts).toBe(3);
    expect(((error as GaveUpError).cause as Error).message).toBe("HTTP 502");
    expect(calls()).toBe(3);
  });

  it("throws a failure not worth a retry as it is, after one try", async () => {
    const fatal = new Error("HTTP 404");
    const { work, calls } = failing(fatal);

    expect(await rejection(retrying(quick, work, { classify: () => undefined }))).toBe(fatal);
    expect(calls()).toBe(1);
  });

  it("does not count a try that moved the work on: the count starts again", async () => {
    let bytes = 0;
    let calls = 0;
    // five failures in a row, each after some data arrived: well past 2 tries, and none of them counted
    const work = async () => {
      calls += 1;
      if (calls > 5) return "done";
      bytes += 100;
      throw new Error("reset");
    };

    expect(await retrying({ maxAttempts: 2, baseMs: 1 }, work, { classify: ALWAYS, progressOf: () => bytes })).toBe("done");
    expect(calls).toBe(6);
  });

  it("still gives up when the tries after the progress move nothing", async () => {
    let bytes = 0;
    let calls = 0;
    const work = async () => {
      calls += 1;
      if (calls === 2) bytes += 100;
      throw new Error(`reset ${calls}`);
    };

    const error = await rejection(retrying({ maxAttempts: 3, baseMs: 1 }, work, { classify: ALWAYS, progressOf: () => bytes }));

    // tries 1 and 2 (data came during 2), then 3, 4 after it: three without progress since it
    expect((error as Error).message).toBe("Gave up after 3 tries: reset 4");
    expect(calls).toBe(4);
  });

  it("ends a wait at once when cancelled, with the caller's cancel error", async () => {
    const controller = new AbortController();
    const cancelled = new Error("cancelled");
    const lines: string[] = [];
    const policy: RetryPolicy = { maxAttempts: 5, baseMs: 60_000, log: (line) => (lines.push(line), controller.abort()) };
    const started = Date.now();

    const error = await rejection(retrying(policy, failing(...errors("reset")).work, { classify: ALWAYS, signal: controller.signal, cancelled: () => cancelled }));

    expect(error).toBe(cancelled);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lines).toEqual([expect.stringMatching(/^reset; retry 1 of 4 in \d+\.\d s$/)]);
  });

  it("throws the signal's reason for a cancel when the caller names no error of its own", async () => {
    const controller = new AbortController();
    const policy: RetryPolicy = { maxAttempts: 5, baseMs: 60_000, log: () => controller.abort("stopped") };

    expect(await rejection(retrying(policy, failing(...errors("reset")).work, { classify: ALWAYS, signal: controller.signal }))).toBe("stopped");
  });

  it("says a try that failed while cancelled was cancelled, whatever it failed with", async () => {
    const controller = new AbortController();
    const cancelled = new Error("cancelled");
    const { work, calls } = failing(...errors("socket closed by the cancel"));
    const cancelling = () => (controller.abort(), work());

    const error = await rejection(retrying(quick, cancelling, { classify: () => undefined, signal: controller.signal, cancelled: () => cancelled }));

    expect(error).toBe(cancelled);
    expect(calls()).toBe(1);
  });

  it("waits as a Retry-After asks, up to the policy's cap", async () => {
    const { work } = failing(...errors("HTTP 429"));
    const started = Date.now();

    await retrying({ maxAttempts: 2, baseMs: 1, maxWaitMs: 150 }, work, { classify: () => ({ message: "HTTP 429", retryAfterMs: 60_000 }) });

    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
