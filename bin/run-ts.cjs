#!/usr/bin/env node
// Run one of the project's TypeScript entry points without a build step:
//   node bin/run-ts.cjs bin/bench-runner.ts [args...]
// Each .ts file is transpiled on require (typescript's transpileModule, CommonJS); type
// checking is `npm test`'s job. Used by the Benchmark component, so `pulumi up` needs no tsc.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const ts = require("typescript");

require.extensions[".ts"] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: false,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};

const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  process.stderr.write("usage: run-ts.cjs <file.ts> [args...]\n");
  process.exit(2);
}
const file = path.resolve(entry);
process.argv = [process.argv[0], file, ...rest];
require(file);
