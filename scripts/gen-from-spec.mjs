#!/usr/bin/env node
// Writes what is derived from the resource specs (provider/<resource>/spec.ts):
// the SDK modules in sdk/generated/ and the README's input tables.
//
//   npm run gen:spec                 # build, then rewrite the generated files
//   npm run gen:spec -- --check      # exit 1 if a committed file is stale
//
// It reads the built specs (dist/), so `npm run build` runs first (gen:spec does it).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const { GENERATED, SDK_IMPORTS } = require(join(root, "dist/provider/specs.js"));
const { renderSdkModule, renderInputTable, replaceMarked } = require(join(root, "dist/provider/resource/render.js"));

const check = process.argv.includes("--check");
const wanted = new Map();
let readme = readFileSync(join(root, "README.md"), "utf8");
for (const g of GENERATED) {
  wanted.set(g.sdkModule, renderSdkModule(g.spec, SDK_IMPORTS));
  readme = replaceMarked(readme, g.readmeSection, renderInputTable(g.spec));
}
wanted.set("README.md", readme);

let stale = 0;
for (const [file, text] of wanted) {
  const path = join(root, file);
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {
    // not written yet
  }
  if (current === text) continue;
  stale++;
  if (check) console.error(`${file} is stale: run \`npm run gen:spec\``);
  else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${file}`);
  }
}
if (check && stale > 0) process.exit(1);
