import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { CATALOG_NAMES } from "../catalog/store";
import { writeFileAtomic } from "../fs/atomic-write";

/** First start: copies the shipped catalogs where the studio has none. An existing catalog is never touched. */
export async function seedCatalogs(catalogsDir: string, shippedDir: string): Promise<string[]> {
  await mkdir(catalogsDir, { recursive: true });
  const seeded: string[] = [];
  for (const name of CATALOG_NAMES) {
    const target = path.join(catalogsDir, `${name}.json`);
    const exists = await access(target).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    await writeFileAtomic(target, await readFile(path.join(shippedDir, `${name}.json`)));
    seeded.push(target);
  }
  return seeded;
}
