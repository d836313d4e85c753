// `npm run services`: starts PostgreSQL (with Oban's tables) and Meilisearch for local use and prints
// their connection settings as KEY=value lines (eval- and .env-friendly). Ctrl-C stops everything.
// Set DATABASE_URL / MEILISEARCH_URL to reuse existing servers; SERVICES_LOG=1 streams the servers' logs.
import { startServices } from "../src/dev/services.ts";
import { errorMessage } from "../src/dev/util.ts";

const log = process.env.SERVICES_LOG ? (line: string) => process.stderr.write(`${line}\n`) : undefined;

let services: Awaited<ReturnType<typeof startServices>>;
try {
  services = await startServices({ log });
} catch (err) {
  process.stderr.write(`Could not start the services: ${errorMessage(err)}\n`);
  process.exit(1);
}

process.stdout.write(
  `DATABASE_URL=${services.databaseUrl}\n` +
    `MEILISEARCH_URL=${services.meilisearchUrl}\n` +
    `MEILISEARCH_API_KEY=${services.meilisearchApiKey ?? ""}\n`,
);
process.stderr.write("Services are running; press Ctrl-C to stop.\n");

// Keeps the process alive even when both services are external (nothing else holds the event loop).
const keepAlive = setInterval(() => {}, 1 << 30);
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(keepAlive);
  services.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`Stopping the services failed: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
