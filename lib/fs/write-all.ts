import type { FileHandle } from "node:fs/promises";

/**
 * Writes every byte of `buffers` at `position`, or throws. A write to a disk that is filling up can write
 * only part of what it was given and still succeed; counting the whole as written would make a control
 * file claim bytes that never reached the disk.
 */
export async function writeAll(handle: Pick<FileHandle, "writev" | "write">, buffers: Buffer[], position: number): Promise<void> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const { bytesWritten } = await handle.writev(buffers, position);
  if (bytesWritten >= total) return;
  const rest = Buffer.concat(buffers).subarray(bytesWritten);
  for (let offset = 0; offset < rest.length; ) {
    const { bytesWritten: more } = await handle.write(rest, offset, rest.length - offset, position + bytesWritten + offset);
    if (more === 0) throw Object.assign(new Error("ENOSPC: no room left on the device, write"), { code: "ENOSPC" });
    offset += more;
  }
}
