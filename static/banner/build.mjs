// Builds the banner: static/banner/src/ -> cookiegate.js, settings.js, choice.js, consent-default.js, cookiegate.css.
//   node static/banner/build.mjs [output folder]     (make banner; the default is static/banner)
// esbuild bundles the modules into one IIFE, terser minifies it (smaller than esbuild's own
// minifier for this script), esbuild minifies the CSS. The output is committed and served as it is;
// tests/test_banner_build.py rebuilds into a temporary folder and compares byte for byte.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { minify } from "terser";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? here);
// Constructed stylesheets set the floor (Chrome 91+ / Firefox 101+ / Safari 16.4+).
const TARGET = ["chrome91", "firefox101", "safari16.4"];

// `import styles from "./banner.css"` gives the minified CSS as a string.
const cssAsText = {
  name: "css-as-text",
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => ({ contents: await styles(args.path), loader: "text" }));
  },
};

const script = async (entry, format = "iife") => {
  const bundled = await build({
    plugins: [cssAsText],
    entryPoints: [join(here, "src", entry)],
    bundle: true,
    format,
    target: TARGET,
    write: false,
    legalComments: "none",
    charset: "utf8",
  });
  const minified = await minify(bundled.outputFiles[0].text, {
    ecma: 2020,
    // Not `toplevel`: terser would unwrap the IIFE and leave its names on the page's window.
    module: format === "esm",
    compress: { passes: 3, unsafe_arrows: true, pure_getters: true },
    mangle: true,
    format: { comments: false, ascii_only: false },
  });
  return minified.code + "\n";
};

const styles = async (path) => {
  const built = await build({ entryPoints: [path], minify: true, target: TARGET, write: false, charset: "utf8" });
  return built.outputFiles[0].text;
};

await mkdir(out, { recursive: true });
const files = {
  "cookiegate.js": await script("main.js"),
  "consent-default.js": await script("consent-default.js"),
  "settings.js": await script("settings.js", "esm"),
  "choice.js": await script("choice.js", "esm"),
  // Only for copies of the previous script still in browser caches: the styles now travel inside it.
  "cookiegate.css": await styles(join(here, "src", "banner.css")) + await styles(join(here, "src", "settings.css")),
};
for (const [name, text] of Object.entries(files)) await writeFile(join(out, name), text);
console.log(Object.entries(files).map(([name, text]) => `${name}: ${Buffer.byteLength(text)} bytes`).join(", "));
