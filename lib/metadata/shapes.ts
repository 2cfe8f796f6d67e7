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

/** One file of a CivitAI version as models added by URL read it: its id, type and format pick it among the others. */
export const CivitaiVersionFile = z.object({
  id: z.number().optional(),
  name: z.string(),
  type: z.string().optional(),
  sizeKB: z.number().optional(),
  primary: z.boolean().optional(),
  metadata: z.object({ format: z.string().nullish(), size: z.string().nullish(), fp: z.string().nullish() }).loose().nullish(),
  hashes: z.object({ SHA256: z.string().optional() }).loose().optional(),
  downloadUrl: z.string().optional(),
});
export type CivitaiVersionFile = z.infer<typeof CivitaiVersionFile>;

/** A version as /api/v1/model-versions/<id> has it, and (without modelId and model) within /api/v1/models/<id>. */
const CivitaiVersionFields = {
  id: z.number(),
  name: z.string(),
  status: z.string().optional(),
  publishedAt: z.string().nullish(),
  baseModel: z.string().optional(),
  trainedWords: z.array(z.string()).optional(),
  files: z.array(CivitaiVersionFile).default([]),
};
export const CivitaiVersionDetail = z.object({
  ...CivitaiVersionFields,
  modelId: z.number(),
  model: z.object({ name: z.string(), type: z.string().optional() }).loose().optional(),
});
export type CivitaiVersionDetail = z.infer<typeof CivitaiVersionDetail>;

/** /api/v1/models/<id>: the model's name, type and tags, and its versions, each with its files. */
export const CivitaiModelDetail = z.object({
  id: z.number(),
  name: z.string(),
  type: z.string().optional(),
  tags: z.array(z.string()).default([]),
  modelVersions: z.array(z.object(CivitaiVersionFields)).default([]),
});
export type CivitaiModelDetail = z.infer<typeof CivitaiModelDetail>;

/** /api/models/<repo>: what a model added by URL takes from Hugging Face's model info. */
export const HfModelDetail = z.object({ id: z.string().optional(), tags: z.array(z.string()).default([]) });
