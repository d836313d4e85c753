// Replay links over real Postgres: keyed by Oban prefix, and the migration that added the prefix
// to links written before it existed.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureState, STATE_VERSION } from "../../src/state/migrations.ts";
import { latestReplays, recordReplay } from "../../src/state/replayLinks.ts";
import { freshObanPrefix, insertJob, type ObanTestSchema, testPool } from "../support/db.ts";

describe("replay links", () => {
  let oban: ObanTestSchema;
  const state = `scrypath_bot_links_${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    oban = await freshObanPrefix();
  });
  afterAll(async () => {
    await oban?.pool.query(`DROP SCHEMA IF EXISTS "${state}" CASCADE`);
    await oban?.close();
  });

  it("gives links written before the prefix column the prefix that holds their replay job", async () => {
    const first = testPool(1);
    try {
      await ensureState(first, state);
      // Back to the version before: no prefix column, the old index.
      await first.query(`
        DROP INDEX "${state}".replay_links_prefix_failed_job_index;
        ALTER TABLE "${state}".replay_links DROP COLUMN oban_prefix;
        CREATE INDEX replay_links_failed_job_index ON "${state}".replay_links (failed_job_id, created_at DESC);
        DELETE FROM "${state}".schema_migrations WHERE version = ${STATE_VERSION};`);
    } finally {
      await first.end();
    }
    const failed = await insertJob(oban.pool, oban.prefix, { state: "discarded", queue: "q", args: {} });
    const replay = await insertJob(oban.pool, oban.prefix, {
      state: "available",
      queue: "q",
      args: {},
      meta: { scrypath_bot: { replay_of: failed, requested_by: "U1" } },
    });
    await oban.pool.query(
      `INSERT INTO "${state}".replay_links (failed_job_id, replay_job_id, schema_module, requested_by)
       VALUES ($1, $2, 'MyApp.Post', 'U1'), (424242, 525252, 'MyApp.Post', 'U2')`,
      [failed, replay],
    );

    const second = testPool(1);
    try {
      await ensureState(second, state);
      const { rows } = await second.query(
        `SELECT oban_prefix, failed_job_id::int AS failed FROM "${state}".replay_links ORDER BY id`,
      );
      // The pruned replay (its job is nowhere) keeps Oban's default prefix.
      expect(rows).toEqual([
        { oban_prefix: oban.prefix, failed },
        { oban_prefix: "public", failed: 424242 },
      ]);
      const mine = await latestReplays(second, state, oban.prefix, [failed, 424242]);
      expect([...mine.keys()]).toEqual([failed]);
      expect(mine.get(failed)).toMatchObject({ replayJobId: replay, replayState: "available" });

      // A link of another prefix with the same failed job id is not this prefix's replay.
      await recordReplay(second, state, {
        obanPrefix: "elsewhere",
        failedJobId: failed,
        replayJobId: 999_999,
        schema: "MyApp.Post",
        requestedBy: "U3",
      });
      const again = await latestReplays(second, state, oban.prefix, [failed]);
      expect(again.get(failed)).toMatchObject({ replayJobId: replay, requestedBy: "U1" });
    } finally {
      await second.end();
    }
  });
});
