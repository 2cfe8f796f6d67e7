/**
 * Reads the zip archives `sls package` makes (stored or deflated entries, no zip64), through their central
 * directory, so the tests need no unzip tool: one file's text, or the whole archive unpacked into a folder.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { inflateRawSync } from "node:zlib";

interface Entry {
  readonly name: string;
  readonly data: () => Buffer;
}

function entries(data: Buffer): Entry[] {
  const end = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error("not a zip archive: no end of central directory");
  const found: Entry[] = [];
  let offset = data.readUInt32LE(end + 16);
  for (let count = data.readUInt16LE(end + 10); count > 0; count--) {
    const [method, size, nameLength, extraLength, commentLength, local] = [
      data.readUInt16LE(offset + 10),
      data.readUInt32LE(offset + 20),
      data.readUInt16LE(offset + 28),
      data.readUInt16LE(offset + 30),
      data.readUInt16LE(offset + 32),
      data.readUInt32LE(offset + 42),
    ];
    const name = data.toString("utf8", offset + 46, offset + 46 + nameLength);
    found.push({
      name,
      data: () => {
        const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
        const stored = data.subarray(start, start + size);
        if (method === 8) return inflateRawSync(stored);
        if (method === 0) return Buffer.from(stored);
        throw new Error(`${name}: compression method ${method} is not supported`);
      },
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return found;
}

/** One file of a zip archive, as text. */
export async function zipEntry(zip: string, name: string): Promise<string> {
  const entry = entries(await readFile(zip)).find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`${name} is not in ${zip}`);
  return entry.data().toString("utf8");
}

/** Unpacks a whole archive into `dir`; refuses a name that would land outside it. Returns the names. */
export async function unzip(zip: string, dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of entries(await readFile(zip))) {
    const target = path.resolve(dir, entry.name);
    if (!target.startsWith(path.resolve(dir) + path.sep)) throw new Error(`${zip}: ${entry.name} leads outside ${dir}`);
    if (entry.name.endsWith("/")) {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, entry.data());
    names.push(entry.name);
  }
  return names;
}
