import { afterEach, describe, expect, it } from "vitest";
import { claimedOn, stake } from "../../../../lib/downloads/engine/room";

describe("the room downloads in progress have yet to take", () => {
  const releases: (() => void)[] = [];
  afterEach(() => releases.splice(0).forEach((release) => release()));

  it("adds up what each download on a filesystem has left, as it goes down", () => {
    let written = 0;
    releases.push(stake({ device: 1, outstanding: () => 10 - written }));
    releases.push(stake({ device: 1, outstanding: () => 5 }));
    releases.push(stake({ device: 2, outstanding: () => 100 }));

    expect(claimedOn(1)).toEqual({ bytes: 15, downloads: 2 });
    written = 4;
    expect(claimedOn(1)).toEqual({ bytes: 11, downloads: 2 });
    expect(claimedOn(2)).toEqual({ bytes: 100, downloads: 1 });
    expect(claimedOn(3)).toEqual({ bytes: 0, downloads: 0 });
  });

  it("forgets a released claim, and one with nothing left to write", () => {
    const release = stake({ device: 1, outstanding: () => 7 });
    releases.push(stake({ device: 1, outstanding: () => -3 }));

    release();

    expect(claimedOn(1)).toEqual({ bytes: 0, downloads: 0 });
  });
});
