import { describe, expect, it } from "vitest";
import { DiskRoom } from "../../../../lib/downloads/engine/room";

describe("the room downloads in progress have yet to take", () => {
  it("adds up what each download on a filesystem has left, as it goes down", () => {
    const room = new DiskRoom();
    let written = 0;
    room.stake({ device: 1, outstanding: () => 10 - written });
    room.stake({ device: 1, outstanding: () => 5 });
    room.stake({ device: 2, outstanding: () => 100 });

    expect(room.claimedOn(1)).toEqual({ bytes: 15, downloads: 2 });
    written = 4;
    expect(room.claimedOn(1)).toEqual({ bytes: 11, downloads: 2 });
    expect(room.claimedOn(2)).toEqual({ bytes: 100, downloads: 1 });
    expect(room.claimedOn(3)).toEqual({ bytes: 0, downloads: 0 });
  });

  it("forgets a released claim, and one with nothing left to write", () => {
    const room = new DiskRoom();
    const release = room.stake({ device: 1, outstanding: () => 7 });
    room.stake({ device: 1, outstanding: () => -3 });

    release();

    expect(room.claimedOn(1)).toEqual({ bytes: 0, downloads: 0 });
  });

  it("counts only its own claims: each download queue has its room", () => {
    const mine = new DiskRoom();
    const other = new DiskRoom();

    other.stake({ device: 1, outstanding: () => 9 });

    expect(mine.claimedOn(1)).toEqual({ bytes: 0, downloads: 0 });
    expect(other.claimedOn(1)).toEqual({ bytes: 9, downloads: 1 });
  });
});
