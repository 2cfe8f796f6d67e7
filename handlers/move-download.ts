import { z } from "zod";
import { moveDownload } from "../lib/downloads/queue-control";
import { api } from "../lib/http/api";
import { FilenamePath } from "../lib/http/params";

/** 0: next to start; past the end of the queue: last. */
const Move = z.strictObject({ position: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

export const handler = api(({ path, body, studio }) => moveDownload(studio.config, path.filename, body.position), { path: FilenamePath, body: Move });
