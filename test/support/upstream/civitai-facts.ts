/** A registered CivitAI version's facts (FileSpec.civitai) as a control request gives them, checked. */
import { BadRequest } from "./http";
import type { CivitaiFacts } from "./types";

/** FileSpec.civitai from a control request; BadRequest names the first field that is wrong. */
export function parseCivitaiFacts(value: unknown): CivitaiFacts {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new BadRequest("civitai must be a JSON object");
  const v = value as Record<string, unknown>;
  const facts: CivitaiFacts = {};
  const str = (k: keyof CivitaiFacts): string | undefined => {
    if (v[k] === undefined) return undefined;
    if (typeof v[k] !== "string") throw new BadRequest(`civitai.${k} must be a string`);
    return v[k];
  };
  const strings = (k: keyof CivitaiFacts): string[] | undefined => {
    const list = v[k];
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) throw new BadRequest(`civitai.${k} must be an array of strings`);
    return list as string[];
  };
  if (v.modelId !== undefined) {
    if (!Number.isSafeInteger(v.modelId) || (v.modelId as number) < 1) throw new BadRequest("civitai.modelId must be a positive integer");
    facts.modelId = v.modelId as number;
  }
  for (const k of ["modelName", "type", "versionName", "baseModel", "status"] as const) {
    const s = str(k);
    if (s !== undefined) facts[k] = s;
  }
  if (v.publishedAt !== undefined) facts.publishedAt = v.publishedAt === null ? null : str("publishedAt")!;
  const tags = strings("tags");
  if (tags !== undefined) facts.tags = tags;
  const words = strings("trainedWords");
  if (words !== undefined) facts.trainedWords = words;
  return facts;
}
