import { z } from "zod";

/** `{filename}` in a path: API Gateway and serverless-offline hand it over URL-decoded. */
export const FilenamePath = z.object({ filename: z.string().min(1).max(1024) });
