// The banner's build (npm run build): the runtime, the GPP page API, its stub and the stylesheet, into dist/.
// The GPP file is built first: the runtime loads it pinned by its SRI hash, which the build writes into
// the runtime (GPP_INTEGRITY), so a site that pins the runtime pins the GPP file with it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const script = { bundle: true, format: "iife", minify: true, target: "es2017", legalComments: "none", logLevel: "info" };

await build({ ...script, entryPoints: ["src/gpp.js"], outfile: "dist/gpp.min.js" });
await build({ ...script, entryPoints: ["src/gpp-stub.js"], outfile: "dist/gpp-stub.min.js" });
const integrity = "sha384-" + createHash("sha384").update(readFileSync("dist/gpp.min.js")).digest("base64");
await build({ ...script, entryPoints: ["src/cmp.js"], outfile: "dist/cmp.min.js",
              define: { GPP_INTEGRITY: JSON.stringify(integrity) } });
await build({ entryPoints: ["src/cmp.css"], minify: true, outfile: "dist/cmp.min.css", logLevel: "info" });
