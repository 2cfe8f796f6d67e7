import { describe, expect, it } from "vitest";
import { Progress } from "../../../lib/downloads/progress";

const MB = 1_000_000;

describe("a running download's progress", () => {
  it("counts no resumed bytes as speed: the first sample only sets where it starts", () => {
    const progress = new Progress(0);

    progress.sample(50 * MB, 1_000);

    expect(progress.figures(50 * MB, 100 * MB)).toEqual({ bytes_downloaded: 50 * MB, bytes_total: 100 * MB, speed: 0, percent: 50 });
  });

  it("smooths the speed over samples, and leaves it until a quarter of a second has passed", () => {
    const progress = new Progress(0);
    progress.sample(0, 0);

    progress.sample(2 * MB, 500);
    expect(progress.figures(2 * MB, 100 * MB).speed).toBe(4 * MB);
    progress.sample(3 * MB, 1_000);
    expect(progress.figures(3 * MB, 100 * MB).speed).toBe(3 * MB);
    progress.sample(4 * MB, 1_100);
    expect(progress.figures(4 * MB, 100 * MB).speed).toBe(3 * MB);
  });

  it("is news until written, and again only when a figure changed", () => {
    const progress = new Progress(0);
    progress.sample(0, 0);
    const first = progress.figures(1 * MB, 100 * MB);

    expect(progress.isNews(first)).toBe(true);
    progress.wrote(first);
    expect(progress.isNews(progress.figures(1 * MB, 100 * MB))).toBe(false);
    expect(progress.isNews(progress.figures(1 * MB + 1, 100 * MB))).toBe(true);
  });

  it("of a stalled download, shows the speed falling to 0 and then says nothing more", () => {
    const progress = new Progress(0);
    progress.sample(0, 0);
    progress.sample(10 * MB, 500);
    const writes: number[] = [];

    for (let now = 1_000; now <= 60_000; now += 500) {
      progress.sample(10 * MB, now);
      const figures = progress.figures(10 * MB, 100 * MB);
      if (progress.isNews(figures)) {
        progress.wrote(figures);
        writes.push(figures.speed);
      }
    }

    expect(writes.at(-1)).toBe(0);
    // halved at every look: from 20 MB/s to 0 in about 26 writes (13 s at two a second), and none after
    expect(writes.length).toBeLessThan(30);
  });
});
