// The figure behind each "Retry all N <class>…" button of /scrypath failed: per class, the terminal
// queue rows a bulk retry would take (replayable, not already replayed into a job that blocks a
// retry), counted in SQL, against real Postgres. It must be what resolveBulkRetry accepts for
// that class with the default state (terminal).
import { describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { REASON_CLASSES } from "../../src/core/types.ts";
import { RefusedError } from "../../src/errors.ts";
import { bulkDeployments, type FailedFields, insertFailed, TRANSPORT, VALIDATION } from "../support/bulk.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const actor = { id: "U_ALICE", context: { channel: "C1" } };

const { deployment, onClose } = bulkDeployments();

let doc = 1000;
function failedRow(d: TestDeployment, live: string, fields: FailedFields = {}): Promise<number> {
  doc += 1;
  return insertFailed(d, upsertArgs(POST, live, [doc]), fields);
}

/** How many rows resolveBulkRetry accepts for the class (state terminal); 0 when it refuses as nothing to retry. */
async function accepted(d: TestDeployment, reasonClass: (typeof REASON_CLASSES)[number]): Promise<number> {
  try {
    return (await d.operator.resolveBulkRetry("posts", { reasonClass }, actor)).ids.length;
  } catch (error) {
    if (error instanceof RefusedError && error.reason === "nothing_to_retry") return 0;
    throw error;
  }
}

describe("failedSyncWork bulkRetryable", () => {
  it("counts per class the terminal rows a bulk retry takes, as resolveBulkRetry accepts them", async () => {
    const { d, live } = await deployment();
    const setState = (id: number, state: string) =>
      d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = $2 WHERE id = $1`, [id, state]);

    // transport, discarded: one replayed into a live job (blocks), one whose replay itself was
    // discarded (does not block), one whose replay job was pruned (blocks), one never replayed.
    const live1 = await failedRow(d, live);
    const replayFailed = await failedRow(d, live);
    const pruned = await failedRow(d, live);
    await failedRow(d, live);
    await d.operator.retrySyncWork("posts", live1, actor);
    const second = await d.operator.retrySyncWork("posts", replayFailed, actor);
    const third = await d.operator.retrySyncWork("posts", pruned, actor);
    // The failed replay is itself a terminal row now: queue_exhausted (discarded, no error).
    await setState(second.job.id, "discarded");
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`, [third.job.id]);
    // transport, cancelled: one replayable, one with no payload to replay.
    await failedRow(d, live, { state: "cancelled" });
    await failedRow(d, live, {
      state: "cancelled",
      args: { ...upsertArgs(POST, live, [7]), documents: undefined },
    });
    // transport, retrying: Oban retries those itself; a terminal bulk retry leaves them.
    await failedRow(d, live, { state: "retryable" });
    await failedRow(d, live, { state: "retryable" });
    // validation: an upsert and a delete, both replayable.
    await failedRow(d, live, { error: VALIDATION });
    await failedRow(d, live, { error: VALIDATION, args: deleteArgs(POST, live, [8, 9]) });
    // Another schema's terminal row in the same queue: not this schema's.
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs("MyApp.Other", live, [1]),
      errors: [obanError(TRANSPORT)],
    });

    const result = await d.operator.failedSyncWork("posts", { bulkRetryable: true, limit: 5 });
    expect(result.bulkRetryable?.byClass).toEqual({
      transport: 3,
      validation: 2,
      backend_rejected: 0,
      queue_exhausted: 1,
      unknown: 0,
    });
    expect(result.bulkRetryable?.total).toBe(6);
    expect(result.bulkRetryLimit).toBe(d.config.access.bulkRetryLimit);
    // Exactly what a bulk retry of each class would take.
    for (const cls of REASON_CLASSES) {
      expect({ cls, n: result.bulkRetryable?.byClass[cls] }).toEqual({ cls, n: await accepted(d, cls) });
    }

    // A class filter reads another rollup (no tally): the figure is the same, for every class.
    const filtered = await d.operator.failedSyncWork("posts", {
      bulkRetryable: true,
      reasonClass: "validation",
    });
    expect(filtered.bulkRetryable).toEqual(result.bulkRetryable);
    // Without the option, nothing is counted; a Meilisearch-only read has no queue rows to retry.
    const plain = await d.operator.failedSyncWork("posts", { limit: 5 });
    expect(plain.bulkRetryable).toBeUndefined();
    const backendOnly = await d.operator.failedSyncWork("posts", {
      bulkRetryable: true,
      source: "meilisearch",
    });
    expect(backendOnly.bulkRetryable).toBeNull();
  });

  it("counts before the bot has replayed anything (no state tables yet)", async () => {
    const d = await testDeployment([postsSchema()], { migrate: false });
    onClose(() => d.close());
    const live = `${d.indexPrefix}_post`;
    await failedRow(d, live);
    await failedRow(d, live, { state: "retryable" });
    const result = await d.operator.failedSyncWork("posts", { bulkRetryable: true });
    expect(result.bulkRetryable?.byClass.transport).toBe(1);
    expect(result.bulkRetryable?.total).toBe(1);
  });
});
