import { z } from "zod";
import { api } from "../lib/http/api";
import { adoptFiles } from "../lib/volume/adopt";

/** Paths as GET /api/admin/models/unlisted gives them ("loras/x.safetensors"). */
const Adopt = z.object({ files: z.array(z.string().min(1).max(4096)).min(1).max(10_000) });

export const handler = api(({ body, studio }) => adoptFiles(studio, body.files), { body: Adopt });
