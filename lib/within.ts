import path from "node:path";

/** Whether the absolute path `dir` is `root` itself or lies below it (`/` holds everything). */
export const isWithin = (dir: string, root: string): boolean =>
  dir === root || dir.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
