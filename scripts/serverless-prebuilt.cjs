/**
 * A local osls plugin for the test runs, which start some twenty stacks: with PREBUILT_FUNCTIONS set to a
 * work folder (relative to the project; lib/server/main.ts then points ESBUILD_WORK_FOLDER at it),
 * `sls offline start --stage local` serves the functions' bundles that an earlier `sls offline start` of the
 * same test run wrote there (test/support/global-functions.ts), instead of bundling all of them again (4-5 s
 * of both cores a start). serverless-esbuild then bundles none (each function is `skipEsbuild`) and
 * serverless-offline loads them from that folder's build. Unset, as under `npm start`, it does nothing.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- osls loads its plugins as CommonJS */
const { existsSync } = require("node:fs");
const path = require("node:path");

class PrebuiltFunctions {
  constructor(serverless, options) {
    this.hooks = {
      initialize: () => {
        const folder = process.env.PREBUILT_FUNCTIONS;
        if (!folder) return;
        const command = serverless.processedInput?.commands?.join(" ");
        if (command !== "offline start" || options.stage !== "local") {
          throw new Error(`PREBUILT_FUNCTIONS serves prebuilt bundles to \`offline start --stage local\` only, not to \`${command}\``);
        }
        if (folder !== process.env.ESBUILD_WORK_FOLDER) {
          throw new Error("PREBUILT_FUNCTIONS must also be the ESBUILD_WORK_FOLDER, where serverless-offline looks for the bundles");
        }
        const buildDir = path.join(serverless.serviceDir ?? serverless.config.servicePath, folder, ".build");
        for (const [name, fn] of Object.entries(serverless.service.functions)) {
          const bundle = path.join(buildDir, `${fn.handler.slice(0, fn.handler.lastIndexOf("."))}.js`);
          // a function added since the bundles were built: they are not this code's
          if (!existsSync(bundle)) throw new Error(`PREBUILT_FUNCTIONS: no bundle of ${name} in ${folder} (${bundle})`);
          fn.skipEsbuild = true;
        }
      },
    };
  }
}

module.exports = PrebuiltFunctions;
