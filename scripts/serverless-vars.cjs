// Values serverless.yml reads at package/offline time (`${file(./scripts/serverless-vars.cjs):name}`).
// Keep the default in step with DEFAULT_CORS_ORIGINS in lib/config.ts.
const corsOrigins = () =>
  (process.env.CORS_ORIGINS || "chrome-extension://*")
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);

module.exports = { corsOrigins };
