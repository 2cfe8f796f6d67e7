import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { CATALOG_NAMES } from "./store";
import { writeFileAtomic } from "../fs/atomic-write";
import { entryExists } from "../fs/exists";

/** First start: copies the shipped catalogs where the studio has none. An existing catalog is never touched. */
export async function seedCatalogs(catalogsDir: string, shippedDir: string): Promise<string[]> {
  await mkdir(catalogsDir, { recursive: true });
  const seeded: string[] = [];
  for (const name of CATALOG_NAMES) {
    const target = path.join(catalogsDir, `${name}.json`);
    if (await entryExists(target)) continue;
    await writeFileAtomic(target, await readFile(path.join(shippedDir, `${name}.json`)));
    seeded.push(target);
  }
  return seeded;
}
