/**
 * The test runs start some twenty stacks. With PREBUILT_FUNCTIONS set to a work folder of the project where
 * this run's tests had `sls offline start --stage local` bundle the functions once
 * (test/support/global-functions.ts), a stack's `sls offline start` serves those bundles: serverless.yml
 * then lists this plugin where it lists serverless-esbuild (`bundler` below), which bundles nothing and
 * takes ~1.3 s to load, and serverless-offline loads the handlers from that folder. Unset, as under
 * `npm start`, serverless-esbuild bundles the functions as always.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- osls loads its plugins as CommonJS */
const { existsSync } = require("node:fs");
const path = require("node:path");

class PrebuiltFunctions {
  /** serverless.yml's bundler plugin: `${file(./scripts/serverless-prebuilt.cjs):bundler}`. */
  static bundler() {
    return process.env.PREBUILT_FUNCTIONS ? "./scripts/serverless-prebuilt.cjs" : "serverless-esbuild";
  }

  constructor(serverless, options) {
    this.hooks = {
      initialize: () => {
        const folder = process.env.PREBUILT_FUNCTIONS;
        const command = serverless.processedInput?.commands?.join(" ");
        if (command !== "offline start" || options.stage !== "local") {
          throw new Error(`PREBUILT_FUNCTIONS serves prebuilt bundles to \`offline start --stage local\` only, not to \`${command}\``);
        }
        // serverless-esbuild's layout: <work folder>/.build/<handler's file>.js
        const build = path.join(folder, ".build");
        for (const [name, fn] of Object.entries(serverless.service.functions)) {
          const bundle = path.join(serverless.serviceDir, build, `${fn.handler.slice(0, fn.handler.lastIndexOf("."))}.js`);
          // a function added since the bundles were made: they are not this code's
          if (!existsSync(bundle)) throw new Error(`PREBUILT_FUNCTIONS: no bundle of ${name} in ${folder} (${bundle})`);
        }
        const custom = serverless.service.custom;
        custom["serverless-offline"] = { ...custom["serverless-offline"], location: build };
      },
    };
  }
}

module.exports = PrebuiltFunctions;
