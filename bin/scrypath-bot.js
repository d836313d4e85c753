#!/usr/bin/env node
// `scrypath-bot`: the one executable. A release tree (scripts/release.sh, the container image) holds
// the compiled code in dist/ and no TypeScript sources: it runs dist/ with plain Node. A checkout runs
// its sources through tsx's loader (a dev dependency), so no build step is needed and a dist/ left
// over from an old `npm run build` never runs instead of the code being edited.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(sources.href);
} else {
  // Stack traces in the log name the TypeScript file and line (dist/ ships its source maps).
  process.setSourceMapsEnabled(true);
  cli = await import(new URL("../dist/src/cli/main.js", import.meta.url).href);
}
await cli.runCommandLine(process.argv.slice(2));
