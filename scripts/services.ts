// `npm run services`: starts PostgreSQL (with Oban's tables) and Meilisearch for local use and prints
// their connection settings as KEY=value lines (eval- and .env-friendly). Ctrl-C stops everything.
// Set DATABASE_URL / MEILISEARCH_URL to reuse existing servers; SERVICES_LOG=1 streams the servers' logs.
//
// `npm run services -- --demo`: the CLI newcomer's path. Always starts fresh embedded servers (never
// the environment's: it writes demo data), seeds the sandbox's demo deployment into them (failed work
// of every reason class, a drifted index, a reindex under way) and writes the bot's configuration for
// it to a YAML file in a temporary directory, printed as SCRYPATH_BOT_CONFIG=<file> (the CLI reads
// that variable). The file is removed with the servers on Ctrl-C.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Meilisearch } from "meilisearch";
import pg from "pg";
import { stringify } from "yaml";
import { sandboxConfigObject, seedDemo } from "../devkit/sandbox/seed.ts";
import { startServices } from "../devkit/services/services.ts";
import { errorMessage } from "../devkit/services/util.ts";
import { parseConfig } from "../src/config.ts";

const USAGE = "usage: npm run services [-- --demo]";

let demo: boolean;
try {
  demo = parseArgs({ options: { demo: { type: "boolean", default: false } }, strict: true }).values.demo;
} catch (err) {
  process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`);
  process.exit(2);
}

const log = process.env.SERVICES_LOG ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
const progress = (line: string) => process.stderr.write(`${line}\n`);

if (demo && (process.env.DATABASE_URL || process.env.MEILISEARCH_URL)) {
  progress(
    "--demo writes demo data, so it starts its own PostgreSQL and Meilisearch and ignores DATABASE_URL / MEILISEARCH_URL.",
  );
}

let services: Awaited<ReturnType<typeof startServices>>;
try {
  services = await startServices({ log, ...(demo ? { env: {} } : {}) });
} catch (err) {
  process.stderr.write(`Could not start the services: ${errorMessage(err)}\n`);
  process.exit(1);
}

let configDir: string | undefined;
let configFile: string | undefined;

/** The demo deployment, seeded; returns the path of its configuration file. */
async function seed(): Promise<string> {
  const configObject = sandboxConfigObject(services);
  const config = parseConfig(configObject, {}, "the demo configuration");
  const pool = new pg.Pool({ connectionString: services.databaseUrl, max: 2 });
  const meili = new Meilisearch({
    host: services.meilisearchUrl,
    apiKey: services.meilisearchApiKey ?? undefined,
    defaultWaitOptions: { interval: 20, timeout: 30_000 },
  });
  try {
    await seedDemo({ pool, meili, config, log: progress });
  } finally {
    await pool.end();
  }
  configDir = await mkdtemp(path.join(tmpdir(), "scrypath-demo-"));
  const file = path.join(configDir, "scrypath-bot.yml");
  const header =
    "# The demo deployment seeded by `npm run services -- --demo` (the sandbox's demo data).\n" +
    "# Valid while that command runs; removed when it stops.\n";
  await writeFile(file, header + stringify(configObject), { mode: 0o600 });
  return file;
}

if (demo) {
  try {
    configFile = await seed();
  } catch (err) {
    process.stderr.write(`Could not seed the demo deployment: ${errorMessage(err)}\n`);
    if (configDir) await rm(configDir, { recursive: true, force: true });
    await services.stop().catch(() => {});
    process.exit(1);
  }
}

process.stdout.write(
  `DATABASE_URL=${services.databaseUrl}\n` +
    `MEILISEARCH_URL=${services.meilisearchUrl}\n` +
    `MEILISEARCH_API_KEY=${services.meilisearchApiKey ?? ""}\n` +
    (configFile ? `SCRYPATH_BOT_CONFIG=${configFile}\n` : ""),
);
process.stderr.write(
  configFile
    ? "The demo deployment is seeded. In another terminal:\n" +
        `  export SCRYPATH_BOT_CONFIG=${configFile}\n` +
        "  npx scrypath-bot status posts\n" +
        "  npx scrypath-bot failed posts\n" +
        "  npx scrypath-bot drift users\n" +
        "  npx scrypath-bot reconcile products\n" +
        "Services are running; press Ctrl-C to stop.\n"
    : "Services are running; press Ctrl-C to stop.\n",
);

// Keeps the process alive even when both services are external (nothing else holds the event loop).
const keepAlive = setInterval(() => {}, 1 << 30);
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(keepAlive);
  const removeConfig = configDir ? rm(configDir, { recursive: true, force: true }) : Promise.resolve();
  Promise.all([services.stop(), removeConfig]).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`Stopping the services failed: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
