// What the esbuild plugin of the functions' bundles (web/build/esbuild-plugins.cjs) provides: the built admin page.
declare module "virtual:admin-page" {
  export const page: import("./page").PageAssets;
}
