// Builds the admin page (web/admin) into one HTML document: the TypeScript bundled by esbuild and the CSS,
// both inlined, with the SHA-256 hashes the Content-Security-Policy names them by. Inline rather than
// separate routes: one response, one Lambda function, and the script can never be out of step with its page.
const { createHash } = require("node:crypto");
const { readFile } = require("node:fs/promises");
const path = require("node:path");
const esbuild = require("esbuild");

const adminDir = path.join(__dirname, "..", "admin");
const entry = path.join(adminDir, "main.ts");
const template = path.join(adminDir, "index.html");
const stylesheet = path.join(adminDir, "style.css");

const cspHash = (text) => `sha256-${createHash("sha256").update(text, "utf8").digest("base64")}`;

/** Text that would end its element early can't be inlined: fail the build instead of shipping a broken page. */
function inlineable(text, tag, what) {
  if (text.toLowerCase().includes(`</${tag}`)) throw new Error(`${what} contains "</${tag}": it cannot be inlined`);
  return text;
}

async function bundleScript() {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: ["chrome109", "firefox115", "safari16"],
    minify: true,
    legalComments: "none",
    tsconfig: path.join(__dirname, "..", "tsconfig.json"),
    metafile: true,
    logLevel: "warning",
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("esbuild produced no admin page script");
  const inputs = Object.keys(result.metafile.inputs).map((file) => path.resolve(file));
  return { script: output.text.trim(), inputs };
}

/** { html, scriptHash, styleHash, watchFiles }: the finished page and what it was made of. */
async function buildPage() {
  const [{ script, inputs }, html, style] = await Promise.all([
    bundleScript(),
    readFile(template, "utf8"),
    readFile(stylesheet, "utf8"),
  ]);
  const css = inlineable(style.trim(), "style", "web/admin/style.css");
  const js = inlineable(script, "script", "the admin page script");
  if (!html.includes("<!--style-->") || !html.includes("<!--script-->")) {
    throw new Error("web/admin/index.html lacks the <!--style--> or <!--script--> placeholder");
  }
  // a function as replacement: `$&` and friends in the script must stay as they are
  const page = html.replace("<!--style-->", () => `<style>${css}</style>`).replace("<!--script-->", () => `<script>${js}</script>`);
  return { html: page, scriptHash: cspHash(js), styleHash: cspHash(css), watchFiles: [...inputs, template, stylesheet] };
}

module.exports = { buildPage };
