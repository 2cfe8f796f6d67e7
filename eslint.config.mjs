import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".serverless/", ".esbuild/", ".esbuild-port-*/", ".esbuild-test-*/", ".build/", ".studio/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", URL: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
      eqeqeq: ["error", "always"],
      // a file a newcomer reads in one sitting: past this, it holds more than one thing
      "max-lines": ["error", { max: 299, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
  },
  {
    // the admin page runs in a browser (its types: web/tsconfig.json)
    files: ["web/admin/**/*.ts"],
    languageOptions: {
      globals: {
        window: "readonly", document: "readonly", localStorage: "readonly", fetch: "readonly", Headers: "readonly",
        FormData: "readonly", TextDecoderStream: "readonly", AbortController: "readonly", CSS: "readonly", confirm: "readonly",
        location: "readonly", HTMLElement: "readonly", Event: "readonly", console: "readonly",
      },
    },
  },
  {
    // its build runs in Node, from serverless-esbuild's plugins
    files: ["web/build/**/*.cjs"],
    languageOptions: { globals: { __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
