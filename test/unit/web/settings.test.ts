import { describe, expect, it } from "vitest";
import { capText, formatMb, parseCap, parseCount, settingsBody, speedAgainstCap } from "../../../web/admin/settings";

describe("the download settings' fields", () => {
  it("reads the cap in MB/s as bytes per second, empty as no cap", () => {
    expect(parseCap("20")).toEqual({ ok: true, value: 20_000_000 });
    expect(parseCap(" 2.5 ")).toEqual({ ok: true, value: 2_500_000 });
    expect(parseCap("0,5")).toEqual({ ok: true, value: 500_000 });
    expect(parseCap("")).toEqual({ ok: true, value: null });
    expect(parseCap("fast")).toMatchObject({ ok: false, problem: expect.stringMatching(/^The cap “fast” is not a number of MB\/s/) });
    expect(parseCap("-3")).toMatchObject({ ok: false });
    expect(parseCap("1e9")).toMatchObject({ ok: false });
  });

  it("sends the exact cap back when its field was left as filled in, not its rounded MB/s", () => {
    const shown = { text: capText(65_536), bytes: 65_536 };

    expect(shown.text).toBe("0.066");
    expect(parseCap("0.066", shown)).toEqual({ ok: true, value: 65_536 });
    expect(parseCap("0.07", shown)).toEqual({ ok: true, value: 70_000 });
  });

  it("takes whole numbers for the counts and leaves their range to the API", () => {
    expect(parseCount("4", "Downloads at once")).toEqual({ ok: true, value: 4 });
    expect(parseCount("99", "Downloads at once")).toEqual({ ok: true, value: 99 });
    expect(parseCount("2.5", "Connections per file")).toEqual({ ok: false, problem: "Connections per file must be a whole number" });
    expect(parseCount("", "Downloads at once")).toMatchObject({ ok: false });
  });

  it("builds the PUT body from all three, or says the first problem", () => {
    expect(settingsBody({ cap: "", concurrent: "3", connections: "8" })).toEqual({
      ok: true,
      value: { max_bytes_per_second: null, max_concurrent: 3, connections_per_file: 8 },
    });
    expect(settingsBody({ cap: "10", concurrent: "x", connections: "y" })).toEqual({ ok: false, problem: "Downloads at once must be a whole number" });
  });
});

describe("the live speed against the cap", () => {
  it("says the speed of all downloads against the cap in MB/s", () => {
    expect(speedAgainstCap(12_345_678, 20_000_000)).toBe("12.3 of 20 MB/s");
    expect(speedAgainstCap(0, 2_500_000)).toBe("0.00 of 2.5 MB/s");
    expect(speedAgainstCap(150_400_000, 200_000_000)).toBe("150 of 200 MB/s");
    expect(speedAgainstCap(480_000, null)).toBe("0.48 MB/s, no cap");
  });

  it("never shows a broken figure", () => {
    expect(formatMb(Number.NaN)).toBe("0.00");
    expect(formatMb(-5)).toBe("0.00");
    expect(capText(null)).toBe("");
  });
});
