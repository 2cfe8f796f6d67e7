import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../fs/atomic-write";
import { readTextIfExists } from "../fs/read-text";
import { Secret } from "../secret";

export interface ApiKeySource {
  readonly key: Secret;
  /** "env" (API_KEY), "file" (made earlier) or "generated" (made now: the one time it is shown). */
  readonly origin: "env" | "file" | "generated";
  readonly file: string;
}

/**
 * There is no default key. Without API_KEY, `npm start` uses the key it generated on an earlier start
 * (in `$STUDIO_DIR/api-key`, mode 0600), or generates one now.
 */
export async function resolveApiKey(envKey: Secret | undefined, studioDir: string): Promise<ApiKeySource> {
  const file = path.join(studioDir, "api-key");
  if (envKey !== undefined) return { key: envKey, origin: "env", file };
  const stored = await readKey(file);
  if (stored.key !== undefined) return { key: stored.key, origin: "file", file };

  await mkdir(studioDir, { recursive: true });
  const key = randomBytes(24).toString("base64url");
  if (stored.exists) {
    // emptied by hand, or by an old crash: replace it whole
    await writeFileAtomic(file, `${key}\n`, 0o600);
  } else {
    await createWithContent(file, `${key}\n`);
  }
  // Starts racing each other all end up with whichever key the file holds now.
  const now = (await readKey(file)).key;
  if (now === undefined) throw new Error(`could not store an API key in ${file}`);
  return { key: now, origin: now.reveal() === key ? "generated" : "file", file };
}

/**
 * Creates `file` with its content in one step (a full temp file hard-linked into place), so no reader,
 * and no crash, ever sees it empty. Does nothing when the file already exists.
 */
async function createWithContent(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(temp);
  }
}

async function readKey(file: string): Promise<{ exists: boolean; key?: Secret }> {
  const text = await readTextIfExists(file);
  if (text === undefined) return { exists: false };
  // a key others can read is not a secret: tighten it rather than refuse to start
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  const key = text.trim();
  return key === "" ? { exists: true } : { exists: true, key: new Secret(key) };
}
