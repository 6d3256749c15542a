// The banner's build (npm run build): the runtime, what it loads later (the preferences dialog and more), the GPP
// page API, its stub and the stylesheet, into dist/. esbuild bundles; terser minifies, since it packs
// the runtime about 5 % smaller than esbuild's own minifier and the runtime has a size budget.
// The files the runtime loads are built first: it loads them pinned by their SRI hashes, which the
// build writes into the runtime (LATER_INTEGRITY, GPP_INTEGRITY), so a site that pins the runtime
// pins them with it.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { minify } from "terser";

async function bundle(name, define = {}) {
  const out = await build({ entryPoints: [`src/${name}.js`], bundle: true, format: "iife", target: "es2017",
                            define, write: false, logLevel: "error" });
  const { code } = await minify(out.outputFiles[0].text, { ecma: 2017, compress: { passes: 3 }, mangle: { toplevel: true },
                                                           format: { comments: false } });
  writeFileSync(`dist/${name}.min.js`, code);
  console.log(`dist/${name}.min.js ${code.length} B`);
}

const integrity = name => JSON.stringify("sha256-" + createHash("sha256").update(readFileSync(`dist/${name}.min.js`)).digest("base64"));

await bundle("later");
await bundle("gpp");
await bundle("gpp-stub");
await bundle("cmp", { LATER_INTEGRITY: integrity("later"), GPP_INTEGRITY: integrity("gpp") });
await build({ entryPoints: ["src/cmp.css"], minify: true, outfile: "dist/cmp.min.css", logLevel: "info" });
