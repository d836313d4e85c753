// Real Meilisearch task outcomes on demand, for the tests and the sandbox's demo deployment: failed
// tasks here are real failures produced by Meilisearch itself (DESIGN.md), not hand-written JSON.
//
// Observed on Meilisearch 1.21.0 (and relied upon below):
// - Document additions are validated while the task is processed, so bad input is accepted (202) and
//   yields a `failed` documentAdditionOrUpdate task with error type `invalid_request`.
// - A documentDeletion task fails with `index_not_found` when the index does not exist (by ids, by
//   filter, or delete-all), and with `invalid_document_filter` when deleting by a filter on an attribute
//   that is not filterable. Deleting ids that are not in the index (even invalid ids) succeeds.
// - After swapping indexes a and b, `GET /tasks?indexUids=a` (or b, with or without types=indexSwap)
//   never returns the indexSwap task in `results`, yet counts it in `total` (e.g. total 1, results []).
//   Only `types=indexSwap` without indexUids (or indexUids=*) returns it; its `indexUid` is null.
import { type Meilisearch, MeilisearchApiError, type Task } from "meilisearch";

export type FailedDocumentKind =
  | "missing_primary_key"
  | "multiple_candidates"
  | "no_candidate"
  | "invalid_document_id";

/** The Meilisearch error code each kind of failure produces. */
export const FAILED_DOCUMENT_CODES: Record<FailedDocumentKind, string> = {
  missing_primary_key: "missing_document_id",
  multiple_candidates: "index_primary_key_multiple_candidates_found",
  no_candidate: "index_primary_key_no_candidate_found",
  invalid_document_id: "invalid_document_id",
};

/** The index's primary key; `null` when the index has none; `undefined` when the index does not exist. */
async function primaryKeyOf(client: Meilisearch, indexUid: string): Promise<string | null | undefined> {
  try {
    return (await client.getRawIndex(indexUid)).primaryKey ?? null;
  } catch (err) {
    if (err instanceof MeilisearchApiError && err.cause?.code === "index_not_found") return undefined;
    throw err;
  }
}

async function expectStatus(
  client: Meilisearch,
  taskUid: number,
  status: string,
  code?: string,
): Promise<Task> {
  const task = await client.tasks.waitForTask(taskUid);
  if (task.status !== status || (code !== undefined && task.error?.code !== code)) {
    throw new Error(
      `Expected task ${taskUid} to be ${status}${code ? ` with ${code}` : ""}, got: ${JSON.stringify(task)}`,
    );
  }
  return task;
}

/**
 * Produces a real failed `documentAdditionOrUpdate` task on `indexUid` and returns it (already finished).
 * - missing_primary_key → `missing_document_id` (a document without the primary key field; an index
 *   without a primary key gets `id`);
 * - multiple_candidates → `index_primary_key_multiple_candidates_found` (needs an index without a
 *   primary key, or no index);
 * - no_candidate → `index_primary_key_no_candidate_found` (same requirement);
 * - invalid_document_id → `invalid_document_id` (primary key value "bad id!").
 */
export async function failDocumentTask(
  client: Meilisearch,
  indexUid: string,
  kind: FailedDocumentKind,
): Promise<Task> {
  const primaryKey = await primaryKeyOf(client, indexUid);
  const index = client.index(indexUid);
  const key = primaryKey ?? "id";
  const options = primaryKey ? undefined : { primaryKey: "id" };
  let enqueued: { taskUid: number };
  switch (kind) {
    case "missing_primary_key":
      enqueued = await index.addDocuments([{ title: "a document without its primary key" }], options);
      break;
    case "invalid_document_id":
      enqueued = await index.addDocuments([{ [key]: "bad id!", title: "invalid id" }], options);
      break;
    case "multiple_candidates":
    case "no_candidate":
      if (primaryKey) {
        throw new Error(
          `Index ${indexUid} already has primary key ${primaryKey}: ${kind} needs an index without one.`,
        );
      }
      enqueued = await index.addDocuments(
        kind === "multiple_candidates" ? [{ id: 1, product_id: 2 }] : [{ title: "no field ends in id" }],
      );
      break;
  }
  return expectStatus(client, enqueued.taskUid, "failed", FAILED_DOCUMENT_CODES[kind]);
}

/** Adds documents (default: one `{ id: 1 }`-keyed document) and returns the succeeded task. */
export async function succeedDocumentTask(
  client: Meilisearch,
  indexUid: string,
  documents: Record<string, unknown>[] = [{ id: 1, title: "a document" }],
  primaryKey = "id",
): Promise<Task> {
  const existing = await primaryKeyOf(client, indexUid);
  const enqueued = await client
    .index(indexUid)
    .addDocuments(documents, existing ? undefined : { primaryKey });
  return expectStatus(client, enqueued.taskUid, "succeeded");
}

export type FailedDeletionKind = "index_not_found" | "invalid_document_filter";

/**
 * Produces a real failed `documentDeletion` task and returns it:
 * - index_not_found: deleting document ids from an index that does not exist (it must not exist);
 * - invalid_document_filter: deleting by a filter on a non-filterable attribute (the index must exist).
 */
export async function failDeletionTask(
  client: Meilisearch,
  indexUid: string,
  kind: FailedDeletionKind,
): Promise<Task> {
  const exists = (await primaryKeyOf(client, indexUid)) !== undefined;
  if (kind === "index_not_found" && exists)
    throw new Error(`Index ${indexUid} exists: ${kind} needs a missing index.`);
  if (kind === "invalid_document_filter" && !exists) {
    throw new Error(`Index ${indexUid} does not exist: ${kind} needs an existing index.`);
  }
  const enqueued =
    kind === "index_not_found"
      ? await client.index(indexUid).deleteDocuments(["1", "2"])
      : await client.index(indexUid).deleteDocuments({ filter: "scrypath_not_filterable = 1" });
  return expectStatus(client, enqueued.taskUid, "failed", kind);
}

/** Deletes every index whose uid starts with `prefix` (for afterAll); waits for the deletions. */
export async function deleteIndexes(client: Meilisearch, prefix: string): Promise<void> {
  const { results } = await client.getRawIndexes({ limit: 1000 });
  const tasks = await Promise.all(
    results.filter((i) => i.uid.startsWith(prefix)).map((i) => client.deleteIndex(i.uid)),
  );
  await client.tasks.waitForTasks(tasks.map((t) => t.taskUid));
}
