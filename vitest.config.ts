import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Starts PostgreSQL (with Oban's tables in `public`) and Meilisearch once per run, or uses
    // DATABASE_URL / MEILISEARCH_URL when set; tests read them with inject("databaseUrl") etc.
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Test files run in parallel (each isolates itself: its own Oban schema prefix and Meilisearch
    // index-name prefix); two workers suit the 2-core CI machine that also runs both servers.
    pool: "forks",
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    reporters: ["default", "./test/support/summaryReporter.ts"],
  },
});
