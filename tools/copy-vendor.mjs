// Copies the browser builds the dashboard needs from node_modules/ into static/vendor/.
// Run by npm's postinstall (so `npm ci` alone sets everything up) and by `npm run vendor`.
// The page loads plain ES modules without a bundler, so bare imports ("regl", "pub-sub-es")
// are rewritten to relative paths and regl's UMD build is wrapped as an ES module.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "static", "vendor");

function fail(message) {
  console.error(`copy-vendor: ${message}`);
  process.exit(1);
}

function read(pkg, file) {
  const path = join(modules, pkg, file);
  try {
    return readFileSync(path, "utf8");
  } catch {
    fail(`${path} is missing; run \`npm ci\` in ${root} first.`);
  }
}

function version(pkg) {
  return JSON.parse(read(pkg, "package.json")).version;
}

// Replaces one exact import line, failing loudly when the upstream build changed shape.
function rewriteImport(source, from, to) {
  const pattern = `from '${from}';`;
  if (!source.includes(pattern)) {
    fail(`regl-scatterplot no longer imports "${from}" as expected; update tools/copy-vendor.mjs.`);
  }
  return source.replace(pattern, `from '${to}';`);
}

function reglAsModule() {
  const umd = read("regl", "dist/regl.min.js");
  if (!umd.includes("module.exports")) {
    fail("regl's dist/regl.min.js is no longer a UMD build; update tools/copy-vendor.mjs.");
  }
  // The UMD wrapper takes its CommonJS branch when `module` and `exports` exist.
  return [
    `// regl ${version("regl")} (MIT), wrapped as an ES module by tools/copy-vendor.mjs`,
    "const module = { exports: {} };",
    "const exports = module.exports;",
    umd,
    "export default module.exports;",
    "",
  ].join("\n");
}

function scatterplotModule() {
  let source = read("regl-scatterplot", "dist/regl-scatterplot.esm.js");
  source = rewriteImport(source, "pub-sub-es", "./pub-sub-es.js");
  source = rewriteImport(source, "regl", "./regl.js");
  return source;
}

function main() {
  rmSync(vendor, { recursive: true, force: true });
  mkdirSync(join(vendor, "licenses"), { recursive: true });

  writeFileSync(join(vendor, "regl-scatterplot.js"), scatterplotModule());
  writeFileSync(join(vendor, "regl.js"), reglAsModule());
  writeFileSync(join(vendor, "pub-sub-es.js"), read("pub-sub-es", "dist/index.js"));
  copyFileSync(join(modules, "uplot", "dist", "uPlot.esm.js"), join(vendor, "uPlot.js"));
  copyFileSync(join(modules, "uplot", "dist", "uPlot.min.css"), join(vendor, "uPlot.min.css"));

  const packages = ["regl-scatterplot", "regl", "pub-sub-es", "uplot"];
  for (const pkg of packages) {
    copyFileSync(join(modules, pkg, "LICENSE"), join(vendor, "licenses", `${pkg}.LICENSE`));
  }
  const versions = Object.fromEntries(packages.map((pkg) => [pkg, version(pkg)]));
  writeFileSync(join(vendor, "versions.json"), `${JSON.stringify(versions, null, 2)}\n`);
  console.log(`copy-vendor: wrote static/vendor/ (${JSON.stringify(versions)})`);
}

main();
