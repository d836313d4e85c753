// Runs the real CLI as a user does: `node bin/scrypath-bot.js ARGS` from the repository root, in
// the environment given, bounded in time. Resolves with its exit code (-1 when it was killed or
// did not start) and what it printed. `runCaptured` runs it in the test's own process instead.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { type CliIo, run } from "../../src/cli/main.ts";

export const ROOT = resolve(import.meta.dirname, "../..");

export interface Spawned {
  code: number;
  stdout: string;
  stderr: string;
}

export function spawnBin(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Spawned> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["bin/scrypath-bot.js", ...args],
      { cwd: ROOT, env, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Runs the CLI in this process (`run` of src/cli/main.ts) with `io` besides its output, and
 * resolves with its exit code and everything it printed on each stream.
 */
export async function runCaptured(argv: string[], io: Omit<CliIo, "stdout" | "stderr">): Promise<Spawned> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    ...io,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}
