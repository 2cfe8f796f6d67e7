import { z } from "zod";
import { api } from "../lib/http/api";
import { startVerify } from "../lib/volume/request";

/** Catalog file names; no body (null from API Gateway) or no `files`: every present catalog file that has a sha256. */
const Verify = z.object({ files: z.array(z.string().min(1).max(1024)).min(1).max(1_000).optional() }).nullish();

export const handler = api(({ body, studio }) => startVerify(studio, body?.files), { body: Verify });
