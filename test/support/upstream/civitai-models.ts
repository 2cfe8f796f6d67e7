/**
 * CivitAI's model API, derived from the registered versions (`civitai/<versionId>` files): the versions that
 * share a model id (FileSpec.civitai.modelId, else one of their own) are one model's.
 *   GET      /api/v1/models/<modelId>       the model: name, type, tags, its versions newest first, each with its files
 */
import { factsOf, versionPayload } from "./civitai";
import { type Endpoint, touch } from "./files";
import { decodePath, json } from "./http";

export const civitaiModel: Endpoint = {
  route: "civitai-api",
  methods: ["GET"],
  pattern: /^\/api\/v1\/models\/([^/]+)\/?$/,
  serve(ctx, ex, m) {
    const modelId = decodePath(m[1] ?? "") ?? "";
    const versions = [...ctx.files.values()]
      .filter((f) => f.spec.id.startsWith("civitai/"))
      .map((f) => {
        const versionId = f.spec.id.slice("civitai/".length);
        return { f, versionId, facts: factsOf(f, versionId) };
      })
      .filter(({ facts }) => String(facts.modelId) === modelId)
      // newest first, as CivitAI lists them; a version never published last
      .sort((a, b) => (b.facts.publishedAt ?? "").localeCompare(a.facts.publishedAt ?? "") || Number(b.versionId) - Number(a.versionId));
    const newest = versions[0];
    if (!newest) return json(ex.res, 404, { error: `No model with id ${modelId}` });
    for (const { f } of versions) touch(ex, f);
    const { facts } = newest;
    return json(ex.res, 200, {
      id: facts.modelId,
      name: facts.modelName,
      description: "<p>A model of the stand-in.</p>",
      allowNoCredit: true,
      allowCommercialUse: ["Image", "RentCivit"],
      allowDerivatives: true,
      allowDifferentLicense: true,
      type: facts.type,
      minor: false,
      poi: false,
      nsfw: false,
      nsfwLevel: 1,
      availability: "Public",
      cosmetic: null,
      supportsGeneration: true,
      stats: { downloadCount: 1234, favoriteCount: 0, thumbsUpCount: 56, thumbsDownCount: 0, commentCount: 3, ratingCount: 0, rating: 0, tippedAmountCount: 0 },
      creator: { username: "stand-in", image: null },
      tags: facts.tags,
      // within the model a version has an index, and no `model` of its own
      modelVersions: versions.map(({ f, versionId, facts: own }, index) => ({ ...versionPayload(ctx, ex.req, f, versionId, own), index })),
    });
  },
};
