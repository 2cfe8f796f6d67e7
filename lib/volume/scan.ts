/**
 * The model files on the volume, as ComfyUI finds them: every file under $MODELS_DIR whose name ends with a
 * model extension. Left out: files right in $MODELS_DIR (ComfyUI reads none there, and a catalog entry needs
 * a folder), hidden files and folders (a name that starts with "."; a `.cache` of huggingface_hub, macOS's
 * `._x.safetensors`, the temp files of atomic writes), and a download's partial and control files
 * (`<file>.part`, `<file>.part.json`, lib/catalog/partial.ts), which no model extension ends.
 *
 * Links are followed for reading, as the listing follows them (a model linked in from elsewhere is present):
 * - a link to a file is a file at the link's path, with its target's size and mtime, wherever it leads;
 * - a link to a folder is walked only when the folder's real path lies inside $MODELS_DIR's: one that leads
 *   out could lead anywhere (`/`, a network share), and a walk there could take hours and list what is not
 *   the pod's; its files are not listed;
 * - each real folder is walked once, and the folders reached without a link first: a link that loops back
 *   (`loras/up -> ..`) ends there, and a file reachable both ways is listed at its real path only.
 */
import type { Dirent, Stats } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../catalog/paths";
import { isWithin } from "../within";

export const MODEL_EXTENSIONS: readonly string[] = [".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx"];

/** A file on the volume. */
export interface VolumeFile {
  /** Its path under $MODELS_DIR, '/' between folders: the API's `path`, the hash cache's key. */
  readonly path: string;
  /** The folders (a catalog entry's `dest`) and the name (its `file`). */
  readonly dest: string;
  readonly file: string;
  /** Absolute, through whatever links it was found. */
  readonly full: string;
  readonly bytes: number;
  readonly mtimeMs: number;
  /** Device and inode: one file under two names (a hard link, a link to a file) has one. */
  readonly identity: string;
}

/** Whether a file of this name is a model file ComfyUI would offer (and no partial, control or hidden file). */
export const isModelFileName = (name: string): boolean =>
  !name.startsWith(".") && MODEL_EXTENSIONS.includes(path.extname(name).toLowerCase());

export const identityOf = (s: Pick<Stats, "dev" | "ino">): string => `${s.dev}:${s.ino}`;

const STAT_CONCURRENCY = 32;

const gone = (error: NodeJS.ErrnoException): undefined => {
  // a file removed or a folder made unreadable during the walk is not there for it
  if (["ENOENT", "ENOTDIR", "ELOOP", "EACCES", "EPERM", "ENAMETOOLONG"].includes(error.code ?? "")) return undefined;
  throw error;
};

const statOf = (file: string): Promise<Stats | undefined> => stat(file).catch(gone);

const listDir = (dir: string): Promise<Dirent[]> => readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => gone(error) ?? []);


interface Folder {
  readonly full: string;
  /** Under the root, '/' between folders; "" for the root. */
  readonly rel: string;
}

/** Every model file under `modelsDir`, sorted by path; none when the folder does not exist. */
export async function scanVolume(modelsDir: string): Promise<VolumeFile[]> {
  const root = path.resolve(modelsDir);
  const realRoot = await realpath(root).catch(gone);
  if (realRoot === undefined) return [];
  const files: VolumeFile[] = [];
  const walked = new Set<string>();
  const direct: Folder[] = [{ full: root, rel: "" }];
  const linked: Folder[] = [];

  const walk = async ({ full, rel }: Folder): Promise<void> => {
    const self = await statOf(full);
    if (!self?.isDirectory() || walked.has(identityOf(self))) return;
    walked.add(identityOf(self));
    const found: { name: string; full: string }[] = [];
    for (const entry of await listDir(full)) {
      if (entry.name.startsWith(".")) continue;
      const child = { full: path.join(full, entry.name), rel: rel === "" ? entry.name : `${rel}/${entry.name}` };
      if (entry.isDirectory()) direct.push(child);
      else if (entry.isSymbolicLink()) await followLink(child, entry.name, found);
      else if (entry.isFile() && rel !== "" && isModelFileName(entry.name)) found.push({ name: entry.name, full: child.full });
    }
    await mapLimit(found, STAT_CONCURRENCY, async ({ name, full: file }) => {
      const s = await statOf(file);
      if (!s?.isFile()) return;
      files.push({ path: `${rel}/${name}`, dest: rel, file: name, full: file, bytes: s.size, mtimeMs: s.mtimeMs, identity: identityOf(s) });
    });
  };

  const followLink = async (child: Folder, name: string, found: { name: string; full: string }[]): Promise<void> => {
    const target = await statOf(child.full);
    if (target?.isFile()) {
      if (path.dirname(child.rel) !== "." && isModelFileName(name)) found.push({ name, full: child.full });
      return;
    }
    if (!target?.isDirectory()) return;
    const real = await realpath(child.full).catch(gone);
    if (real !== undefined && isWithin(real, realRoot)) linked.push(child);
  };

  // breadth first, folders reached without a link before any reached through one
  for (let next = direct.shift() ?? linked.shift(); next; next = direct.shift() ?? linked.shift()) await walk(next);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
