import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
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
  if (stored !== undefined) return { key: stored, origin: "file", file };
  await mkdir(studioDir, { recursive: true });
  const key = randomBytes(24).toString("base64url");
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    // another start got there first: use its key, so both agree
    const raced = (error as NodeJS.ErrnoException).code === "EEXIST" ? await readKey(file) : undefined;
    if (raced === undefined) throw error;
    return { key: raced, origin: "file", file };
  }
  return { key: new Secret(key), origin: "generated", file };
}

async function readKey(file: string): Promise<Secret | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // a key others can read is not a secret: tighten it rather than refuse to start
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  const key = text.trim();
  return key === "" ? undefined : new Secret(key);
}
