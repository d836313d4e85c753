// Small helpers shared by the embedded test/demo servers (meilisearchServer.ts, postgresServer.ts).
import { rmSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A free TCP port on 127.0.0.1 (the OS picks it; another process could still take it before we bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("Could not determine a free loopback port."));
      });
    });
  });
}

/** A fresh directory under the OS temp dir, with exactly `mode` (mkdtemp creates 0700 and the umask applies). */
export async function makeTempDir(prefix: string, mode = 0o700, base = os.tmpdir()): Promise<string> {
  const dir = await fs.mkdtemp(path.join(base, prefix));
  if (mode !== 0o700) await fs.chmod(dir, mode);
  return dir;
}

/**
 * /dev/shm (tmpfs) when it is a writable directory, else the OS temp dir. Meilisearch syncs its
 * databases on every task; on tmpfs a small document task takes ~25 ms instead of ~50–300 ms.
 */
export async function memoryTempBase(): Promise<string> {
  try {
    await fs.access("/dev/shm", fs.constants.W_OK | fs.constants.X_OK);
    if ((await fs.stat("/dev/shm")).isDirectory()) return "/dev/shm";
  } catch {
    // not Linux, or no tmpfs
  }
  return os.tmpdir();
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** Keeps the last `max` lines of a process's output (for error messages) and forwards each line to `log`. */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(
    private readonly max = 30,
    private readonly log?: (line: string) => void,
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split(/\r?\n/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) this.add(line);
  }

  private add(raw: string): void {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from server logs
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "");
    if (line.trim() === "") return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
    this.log?.(line);
  }

  text(): string {
    const all = this.partial.trim() === "" ? this.lines : [...this.lines, this.partial];
    return all.length === 0 ? "(no output)" : all.join("\n");
  }
}

/**
 * Last-resort cleanup when the Node process exits without calling stop() (a crash, process.exit()).
 * Only synchronous work is possible in an "exit" listener: signal the child, remove its directory.
 */
const exitCleanups = new Set<() => void>();
let exitListenerInstalled = false;

export function onProcessExit(cleanup: () => void): () => void {
  if (!exitListenerInstalled) {
    exitListenerInstalled = true;
    process.on("exit", () => {
      for (const fn of exitCleanups) {
        try {
          fn();
        } catch {
          // best effort
        }
      }
    });
  }
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
