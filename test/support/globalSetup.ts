// Vitest global setup: one PostgreSQL and one Meilisearch per test run (see devkit/services/services.ts).
import type { TestProject } from "vitest/node";
import { startServices } from "../../devkit/services/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    meilisearchUrl: string;
    meilisearchApiKey: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // SERVICES_LOG=1 streams the servers' own logs to stderr (useful when start-up fails in CI).
  const log = process.env.SERVICES_LOG ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  const services = await startServices({ env: process.env, log });
  project.provide("databaseUrl", services.databaseUrl);
  project.provide("meilisearchUrl", services.meilisearchUrl);
  project.provide("meilisearchApiKey", services.meilisearchApiKey);
  // Vitest runs the teardown after the last test file, whether tests passed or failed.
  return () => services.stop();
}
