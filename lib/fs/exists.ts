import { lstat, stat } from "node:fs/promises";

const missing = (error: NodeJS.ErrnoException): false => {
  if (error.code === "ENOENT" || error.code === "ENOTDIR" || error.code === "ELOOP" || error.code === "ENAMETOOLONG") return false;
  throw error;
};

/** Whether anything is at `file`: a link counts as itself, dangling or not, and is never followed. */
export const entryExists = (file: string): Promise<boolean> => lstat(file).then(() => true, missing);

/** Whether `file` is a regular file, following links: a model linked in from elsewhere is one. */
export const isRegularFile = (file: string): Promise<boolean> => stat(file).then((s) => s.isFile(), missing);
