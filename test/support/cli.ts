// Runs the real CLI as a user does: `node bin/scrypath-bot.js ARGS` from the repository root, in
// the environment given, bounded in time. Resolves with its exit code (-1 when it was killed or
// did not start) and what it printed.
import { execFile } from "node:child_process";
import { resolve } from "node:path";

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
