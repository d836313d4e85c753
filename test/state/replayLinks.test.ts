// Replay links over real Postgres: keyed by Oban prefix, the migration that added the prefix
// to links written before it existed, and the verdicts followers record on them.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transaction } from "../../src/backends/postgres.ts";
import { REPLAY_VERDICTS } from "../../src/core/tally.ts";
import { ensureState } from "../../src/state/migrations.ts";
import {
  latestReplays,
  recordReplay,
  recordVerification,
  replayCounts,
} from "../../src/state/replayLinks.ts";
import { freshObanPrefix, insertJob, type ObanTestSchema, testPool } from "../support/db.ts";

/** The migration that keyed replay links by Oban prefix. */
const PREFIX_MIGRATION = 6;

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
      // Back to the version before: no prefix column, the old index (and none of the later
      // migrations: the verdict columns, the alert tables).
      await first.query(`
        DROP TABLE IF EXISTS "${state}".alert_subscriptions, "${state}".alert_checks, "${state}".alerts;
        DROP INDEX "${state}".replay_links_prefix_replay_job_index;
        ALTER TABLE "${state}".replay_links DROP COLUMN verification, DROP COLUMN verification_at;
        DROP INDEX "${state}".replay_links_prefix_failed_job_index;
        ALTER TABLE "${state}".replay_links DROP COLUMN oban_prefix;
        CREATE INDEX replay_links_failed_job_index ON "${state}".replay_links (failed_job_id, created_at DESC);
        DELETE FROM "${state}".schema_migrations WHERE version >= ${PREFIX_MIGRATION};`);
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

  describe("verdicts of followed replays", () => {
    const verdictState = `scrypath_bot_verdicts_${randomBytes(4).toString("hex")}`;
    const pool = () => oban.pool;

    beforeAll(async () => {
      await ensureState(oban.pool, verdictState);
    });
    afterAll(async () => {
      await oban?.pool.query(`DROP SCHEMA IF EXISTS "${verdictState}" CASCADE`);
    });

    /** A discarded job of `schema` in queue q, replayed by the bot into a job in `replayState`. */
    const replayed = async (replayState: string, schema = "Elixir.MyApp.Post") => {
      const failed = await insertJob(oban.pool, oban.prefix, {
        state: "discarded",
        queue: "q",
        args: { schema },
      });
      const replay = await insertJob(oban.pool, oban.prefix, {
        state: replayState,
        queue: "q",
        args: { schema },
      });
      await recordReplay(pool(), verdictState, {
        obanPrefix: oban.prefix,
        failedJobId: failed,
        replayJobId: replay,
        schema: "MyApp.Post",
        requestedBy: "U1",
      });
      return { failed, replay };
    };
    const record = (
      replayJobId: number,
      verdict: (typeof REPLAY_VERDICTS)[number],
      db: Parameters<typeof recordVerification>[0] = pool(),
    ) => recordVerification(db, verdictState, { obanPrefix: oban.prefix, replayJobId, verdict });
    const storedRows = async (replayJobId: number) =>
      (
        await oban.pool.query(
          `SELECT verification, verification_at FROM "${verdictState}".replay_links WHERE replay_job_id = $1`,
          [replayJobId],
        )
      ).rows;

    it("stores the strongest verdict; a weaker or equal one leaves it (and its time) as it is", async () => {
      const { failed, replay } = await replayed("completed");
      expect((await latestReplays(pool(), verdictState, oban.prefix, [failed])).get(failed)).toMatchObject({
        replayState: "completed",
        verification: null,
      });
      const timedOut = await record(replay, "timed_out");
      expect(timedOut?.verdict).toBe("timed_out");
      const verified = await record(replay, "verified");
      expect(verified?.verdict).toBe("verified");
      expect(verified?.at.getTime()).toBeGreaterThanOrEqual(timedOut?.at.getTime() ?? Infinity);
      // Weaker, then equal: the first verified stands, with its time.
      expect(await record(replay, "queue_only_completed")).toEqual(verified);
      expect(await record(replay, "verified")).toEqual(verified);
      expect(await storedRows(replay)).toEqual([{ verification: "verified", verification_at: verified?.at }]);
      expect((await latestReplays(pool(), verdictState, oban.prefix, [failed])).get(failed)).toMatchObject({
        replayJobId: replay,
        verification: "verified",
      });
    });

    it("records nothing for a replay job no link of this prefix made", async () => {
      const { replay } = await replayed("completed");
      expect(
        await recordVerification(pool(), verdictState, {
          obanPrefix: "elsewhere",
          replayJobId: replay,
          verdict: "verified",
        }),
      ).toBeNull();
      expect(await record(987_654_321, "verified")).toBeNull();
      expect(await storedRows(replay)).toEqual([{ verification: null, verification_at: null }]);
    });

    it("counts replays by failed state, replay state and verdict", async () => {
      const schema = `Elixir.MyApp.Counted${randomBytes(3).toString("hex")}`;
      const a = await replayed("completed", schema);
      const b = await replayed("completed", schema);
      await replayed("available", schema);
      await record(a.replay, "verified");
      await record(b.replay, "queue_only_completed");
      const counts = await replayCounts(pool(), verdictState, { prefix: oban.prefix, queue: "q", schema });
      expect(counts.sort((x, y) => String(x.verification).localeCompare(String(y.verification)))).toEqual([
        { failedState: "discarded", replayState: "available", verification: null, count: 1 },
        {
          failedState: "discarded",
          replayState: "completed",
          verification: "queue_only_completed",
          count: 1,
        },
        { failedState: "discarded", replayState: "completed", verification: "verified", count: 1 },
      ]);
    });

    it("two followers recording at once leave one consistent row, whichever commits first", async () => {
      // Each follower records in its own transaction; the first holds the row while the second
      // writes, so the second must re-check what the first committed (a read-then-write would not).
      for (const [first, second] of [
        ["verified", "queue_only_completed"],
        ["timed_out", "verified"],
      ] as const) {
        const { failed, replay } = await replayed("completed");
        let release = () => {};
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let secondDone = false;
        const one = transaction(oban.pool, async (client) => {
          const mine = await record(replay, first, client);
          await held;
          return mine;
        });
        // Give the first its row lock before the second writes.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const two = record(replay, second).then((r) => {
          secondDone = true;
          return r;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(secondDone).toBe(false);
        release();
        const [a, b] = await Promise.all([one, two]);
        expect(a?.verdict).toBe(first);
        // Both end with the verified verdict standing, in one row.
        expect(b?.verdict).toBe("verified");
        const rows = await storedRows(replay);
        expect(rows).toHaveLength(1);
        expect(rows[0].verification).toBe("verified");
        expect(
          (await latestReplays(pool(), verdictState, oban.prefix, [failed])).get(failed)?.verification,
        ).toBe("verified");
      }
    });

    it("many replicas recording every verdict at once: the strongest stands", async () => {
      const { replay } = await replayed("completed");
      const many = testPool(6);
      try {
        const verdicts = [...REPLAY_VERDICTS, ...REPLAY_VERDICTS].reverse();
        const results = await Promise.all(verdicts.map((v) => record(replay, v, many)));
        for (const r of results) expect(r?.verdict).toBeDefined();
        expect(await storedRows(replay)).toEqual([
          { verification: "verified", verification_at: expect.any(Date) },
        ]);
      } finally {
        await many.end();
      }
    });
  });
});
