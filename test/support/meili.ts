// Test helpers for the real Meilisearch server started by globalSetup. The helpers that produce real
// task outcomes live in devkit/meiliTasks.ts (the sandbox seeds its demo deployment with them).
import { randomBytes } from "node:crypto";
import { Meilisearch } from "meilisearch";
import { inject } from "vitest";

export {
  deleteIndexes,
  FAILED_DOCUMENT_CODES,
  type FailedDeletionKind,
  type FailedDocumentKind,
  failDeletionTask,
  failDocumentTask,
  succeedDocumentTask,
} from "../../devkit/meiliTasks.ts";

export function testClient(): Meilisearch {
  return new Meilisearch({
    host: inject("meilisearchUrl"),
    apiKey: inject("meilisearchApiKey") ?? undefined,
    defaultWaitOptions: { interval: 10, timeout: 20_000 },
  });
}

/** A prefix for this test file's index uids, e.g. `t3f9a1c2b_` (uids allow a-z A-Z 0-9 - _). */
export function uniqueIndexPrefix(): string {
  return `t${randomBytes(4).toString("hex")}_`;
}
