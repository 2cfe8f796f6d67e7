/**
 * The parts of CivitAI's and Hugging Face's API answers this service reads (zod, loose: every other field
 * is ignored). CivitAI: /api/v1/model-versions/<id> (and by-hash, the same shape), /api/v1/models/<id>;
 * Hugging Face: /api/models/<repo>.
 */
import { z } from "zod";

export const CivitaiVersion = z.object({
  id: z.number(),
  modelId: z.number(),
  name: z.string(),
  baseModel: z.string().optional(),
  trainedWords: z.array(z.string()).optional(),
  updatedAt: z.string().optional(),
  publishedAt: z.string().nullish(),
  model: z.object({ name: z.string(), type: z.string().optional(), nsfw: z.boolean().optional() }).optional(),
  files: z
    .array(
      z.object({
        name: z.string(),
        sizeKB: z.number().optional(),
        primary: z.boolean().optional(),
        hashes: z.object({ SHA256: z.string().optional() }).loose().optional(),
      }),
    )
    .default([]),
});
export const CivitaiModel = z.object({ tags: z.array(z.string()).default([]) });

export const HfInfo = z.object({ lastModified: z.string().optional() }).loose();
