import { z } from "zod";
import { queueBatch } from "../lib/downloads/request";
import { api } from "../lib/http/api";

const Batch = z.object({ filenames: z.array(z.string().min(1).max(1024)).max(10_000) });

export const handler = api(({ body, studio }) => queueBatch(studio, body.filenames), { body: Batch });
