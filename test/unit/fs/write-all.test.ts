import { describe, expect, it } from "vitest";
import { writeAll } from "../../../lib/fs/write-all";

/** A file on a disk with `room` bytes left: writes stop short at the edge, then fail with ENOSPC. */
function fullingDisk(room: number) {
  const disk = Buffer.alloc(64);
  let used = 0;
  const put = (data: Buffer, position: number): number => {
    if (used >= room) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const n = Math.min(data.length, room - used);
    data.copy(disk, position, 0, n);
    used += n;
    return n;
  };
  const handle = {
    writev: async (buffers: readonly NodeJS.ArrayBufferView[], position?: number | null) => {
      const bytesWritten = put(Buffer.concat(buffers as Buffer[]), position ?? 0);
      return { bytesWritten, buffers };
    },
    write: async (buffer: Buffer, offset?: number | null, length?: number | null, position?: number | null) => {
      const bytesWritten = put(buffer.subarray(offset ?? 0, (offset ?? 0) + (length ?? buffer.length)), position ?? 0);
      return { bytesWritten, buffer };
    },
  };
  return { disk, handle: handle as unknown as Parameters<typeof writeAll>[0] };
}

describe("writeAll", () => {
  it("writes everything in one writev when the disk has room", async () => {
    const { disk, handle } = fullingDisk(64);

    await writeAll(handle, [Buffer.from("abc"), Buffer.from("def")], 2);

    expect(disk.subarray(0, 8).toString("latin1")).toBe("\0\0abcdef");
  });

  it("throws ENOSPC instead of counting a short write as whole", async () => {
    const { disk, handle } = fullingDisk(4);

    await expect(writeAll(handle, [Buffer.from("abc"), Buffer.from("def")], 0)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(disk.subarray(0, 4).toString("latin1")).toBe("abcd");
  });
});
