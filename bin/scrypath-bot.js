#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so no build step is needed.
import { register } from "tsx/esm/api";

register();
const { run, processIo } = await import("../src/cli/main.ts");
process.exitCode = await run(process.argv.slice(2), processIo());
// A backend that never answered leaves its sockets open: do not let them keep the process alive.
setTimeout(() => process.exit(), 100).unref();
