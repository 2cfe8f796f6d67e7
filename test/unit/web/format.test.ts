import { describe, expect, it } from "vitest";
import { countOf, etaSeconds, formatBytes, formatDuration, formatPercent, formatSizeGb, formatSpeed, progressText } from "../../../web/admin/format";

describe("sizes, speeds and times on the admin page", () => {
  it("shows sizes in binary units with three significant figures", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 ** 2)).toBe("3.0 MiB");
    expect(formatBytes(6_979_321_856)).toBe("6.5 GiB");
    expect(formatBytes(150 * 1024 ** 3)).toBe("150 GiB");
    expect(formatBytes(2.5 * 1024 ** 4)).toBe("2.5 TiB");
  });

  it("never says 1024 of a unit: that is one of the next", () => {
    expect(formatBytes(1024 ** 3 - 1)).toBe("1.0 GiB");
  });

  it("shows a dash for what it can't size", () => {
    expect(formatBytes(Number.NaN)).toBe("–");
    expect(formatBytes(-1)).toBe("–");
    expect(formatSizeGb(undefined)).toBe("–");
    expect(formatSizeGb(0)).toBe("–");
    expect(formatSizeGb(6.5)).toBe("6.5 GiB");
  });

  it("shows speed per second, and nothing to show when there is none", () => {
    expect(formatSpeed(52_428_800)).toBe("50.0 MiB/s");
    expect(formatSpeed(0)).toBe("–");
  });

  it("floors the percentage, so 100% means done", () => {
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(15.46)).toBe("15.4%");
    expect(formatPercent(99.99)).toBe("99.9%");
    expect(formatPercent(100)).toBe("100%");
  });

  it("tells the time left from the bytes left and the speed, when it can", () => {
    expect(etaSeconds(0, 100, 10)).toBe(10);
    expect(etaSeconds(50, 100, 0)).toBeUndefined();
    expect(etaSeconds(50, 0, 10)).toBeUndefined();
    expect(etaSeconds(100, 100, 10)).toBeUndefined();
  });

  it("says durations the way a person would", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(59)).toBe("59 s");
    expect(formatDuration(125)).toBe("2 min 05 s");
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe("3 h 07 min");
    expect(formatDuration(2 * 86_400 + 5 * 3600)).toBe("2 d 5 h");
  });

  it("puts a download's progress in one line", () => {
    const total = 6 * 1024 ** 3;
    expect(progressText({ bytes_downloaded: total / 4, bytes_total: total, speed: 50 * 1024 ** 2, percent: 25 })).toBe(
      "25.0% · 1.5 GiB of 6.0 GiB · 50.0 MiB/s · 1 min 33 s left",
    );
    expect(progressText({ bytes_downloaded: 0, bytes_total: 0, speed: 0, percent: 0 })).toBe("0% · 0 B");
  });
});

describe("counts on the admin page", () => {
  it.each([
    [0, "0 models"],
    [1, "1 model"],
    [2, "2 models"],
    [10_000, "10000 models"],
  ])("says %i as %s", (count, words) => {
    expect(countOf(count, "model")).toBe(words);
  });
});
