// esbuild plugins of the functions' bundles (serverless.yml custom.esbuild.plugins), used alike by
// `sls offline` under `npm start` and by `sls package`: so the page needs no build command of its own.
const { buildPage } = require("./page.cjs");

/** `import { page } from "virtual:admin-page"` (handlers/admin-page.ts) is the built page, as a string constant. */
const adminPage = {
  name: "admin-page",
  setup(build) {
    build.onResolve({ filter: /^virtual:admin-page$/ }, (args) => ({ path: args.path, namespace: "admin-page" }));
    build.onLoad({ filter: /.*/, namespace: "admin-page" }, async () => {
      const { watchFiles, ...page } = await buildPage();
      return { contents: `export const page = ${JSON.stringify(page)};`, loader: "js", watchFiles };
    });
  },
};

module.exports = [adminPage];
