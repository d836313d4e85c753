// Postgres connections dying under the bot, against the real Bolt app and the real Postgres: the
// backend of a confirmed retry killed while its transaction waits (before COMMIT, and during
// COMMIT), a COMMIT whose answer is lost, and a client killed while migrating. The process keeps
// serving, the card and the audit row tell what happened, and `oban_jobs` holds one replay job
// with its link and audit row, or none.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { ensureState } from "../../src/state/migrations.ts";
import { ALICE, BOB, Harness, type TestBot, textOf } from "../slack/confirmHarness.ts";
import { insertJob, testPool } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

/** An admin session holding a transaction-scoped advisory lock until `release()`. */
async function holdLock(pool: pg.Pool, key: string): Promise<{ pid: number; release(): Promise<void> }> {
  const client = await pool.connect();
  client.on("error", () => {});
  await client.query("BEGIN");
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
  const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return {
    pid: rows[0]?.pid as number,
    async release() {
      await client.query("ROLLBACK");
      client.release();
    },
  };
}

/** The backend waiting on `holderPid`'s lock, once there is one. */
async function waiter(pool: pg.Pool, holderPid: number, timeoutMs = 10_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const { rows } = await pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
      [holderPid],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing waited on the lock of backend ${holderPid} within ${timeoutMs} ms`);
}

describe("a Postgres connection dying under a confirmed retry", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let admin: pg.Pool;
  let live: string;
  let stateName: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown) => unhandled.push(error);

  const failedJob = (ids: number[]) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });

  const retryCard = async (on: TestBot, failed: number) => {
    const before = h.fake.posted.length;
    await h.command(on, `retry posts ${failed}`, ALICE);
    return h.nextCard(before);
  };

  /** Replay links, audit rows and jobs of one failed job agree: all three, or none. */
  const replayState = async (failed: number) => {
    const jobs = await h.replaysOf(failed);
    const links = await admin.query(
      `SELECT replay_job_id FROM "${stateName}".replay_links WHERE failed_job_id = $1`,
      [failed],
    );
    const accepted = await admin.query(
      `SELECT target FROM "${stateName}".audit_log WHERE action = 'scrypath.ops.failed_work_retry' AND outcome = 'accepted' AND (target->>'id')::bigint = $1`,
      [failed],
    );
    return {
      jobs,
      links: links.rows.map((r) => Number(r.replay_job_id)),
      accepted: accepted.rows.map((r) => Number(r.target.new_job_id)),
    };
  };

  /** A retry after the fault: a new card, confirmed, done, one job with its link and audit row. */
  const retryWorks = async (on: TestBot, failed: number) => {
    const card = await retryCard(on, failed);
    await h.decide(on, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    const state = await replayState(failed);
    expect(state.jobs).toHaveLength(1);
    expect(state.links).toEqual(state.jobs);
    expect(state.accepted).toEqual(state.jobs);
  };

  beforeAll(async () => {
    process.on("uncaughtException", onUnhandled);
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    live = `${d.indexPrefix}_post`;
    stateName = d.config.state.schema;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    admin = testPool(4);
    h = await Harness.create(d);
    bot = await h.bot({ ownOperator: true });
  });

  afterAll(async () => {
    process.off("uncaughtException", onUnhandled);
    await h?.close();
    await admin?.end();
    await d?.close();
  });

  it("says Not done, nothing changed, when the backend is killed before COMMIT; the next retry works", async () => {
    const failed = await failedJob([1, 2]);
    const card = await retryCard(bot, failed);
    // The retry's transaction waits on this lock (lockTarget), so it is certainly open when killed.
    const lock = await holdLock(admin, `scrypath_bot:retry:${d.oban.prefix}:${failed}`);
    try {
      await h.decide(bot, card, BOB);
      const pid = await waiter(admin, lock.pid);
      const killedAt = Date.now();
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      const update = await h.cardUpdate(card.ts, /^Failed: .* — Not done: postgres_unreachable/);
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      expect(textOf(update)).toContain("Nothing was changed");
      expect(textOf(update)).not.toContain("may have partly run");
    } finally {
      await lock.release();
    }
    const audit = await h.auditOf(card.id);
    expect(audit.map((r) => r.outcome)).toEqual(["requested", "confirmed", "failed"]);
    expect(audit[2]).toMatchObject({ reason: "postgres_unreachable", details: { nothing_changed: true } });
    expect((await h.confirmation(card.id)).status).toBe("failed");
    expect(await replayState(failed)).toEqual({ jobs: [], links: [], accepted: [] });
    // The process kept serving: no unhandled 'error' event, and the same bot retries the job.
    expect(unhandled).toEqual([]);
    await retryWorks(bot, failed);
  });

  it("says Not done when the backend is killed while COMMIT waits (Postgres confirms the abort)", async () => {
    // A deferred trigger makes COMMIT wait on a lock the test holds: the kill lands inside COMMIT.
    const key = `hold_commit_${d.oban.prefix}`;
    await admin.query(`
      CREATE FUNCTION "${stateName}".hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock(hashtextextended('${key}', 0)); RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON "${stateName}".replay_links
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${stateName}".hold_commit();`);
    try {
      const failed = await failedJob([3]);
      const card = await retryCard(bot, failed);
      const lock = await holdLock(admin, key);
      try {
        await h.decide(bot, card, BOB);
        const pid = await waiter(admin, lock.pid);
        const { rows } = await admin.query("SELECT query FROM pg_stat_activity WHERE pid = $1", [pid]);
        expect(rows[0]?.query).toBe("COMMIT");
        await admin.query("SELECT pg_terminate_backend($1)", [pid]);
        const update = await h.cardUpdate(card.ts, /^Failed: .* — Not done: postgres_unreachable/);
        expect(textOf(update)).toContain("Nothing was changed");
      } finally {
        await lock.release();
      }
      const audit = await h.auditOf(card.id);
      expect(audit.at(-1)).toMatchObject({ outcome: "failed", details: { nothing_changed: true } });
      expect(await replayState(failed)).toEqual({ jobs: [], links: [], accepted: [] });
      expect(unhandled).toEqual([]);
      await admin.query(`DROP TRIGGER hold_commit ON "${stateName}".replay_links`);
      await retryWorks(bot, failed);
    } finally {
      await admin.query(`DROP FUNCTION IF EXISTS "${stateName}".hold_commit() CASCADE`);
    }
  });

  describe("through a proxy that loses COMMIT's answer", () => {
    let proxy: TcpProxy;
    let proxied: TestBot;

    beforeAll(async () => {
      const url = new URL(d.config.database.url);
      proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
      proxied = await h.bot({
        database: {
          url: proxy.rewrite(d.config.database.url),
          statementTimeoutMs: 4_000,
          queryTimeoutMs: 5_000,
        },
      });
    });

    afterAll(async () => {
      await proxy?.close();
    });

    const holdCommit = async (key: string) => {
      await admin.query(`
        CREATE OR REPLACE FUNCTION "${stateName}".hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock(hashtextextended('${key}', 0)); RETURN NULL; END $$;
        DROP TRIGGER IF EXISTS hold_commit ON "${stateName}".replay_links;
        CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON "${stateName}".replay_links
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${stateName}".hold_commit();`);
    };
    const dropHold = () => admin.query(`DROP FUNCTION IF EXISTS "${stateName}".hold_commit() CASCADE`);

    it("says Done when COMMIT's answer is lost but Postgres, asked again, says it committed", async () => {
      const key = `lost_answer_${d.oban.prefix}`;
      await holdCommit(key);
      try {
        const failed = await failedJob([4]);
        const card = await retryCard(proxied, failed);
        const lock = await holdLock(admin, key);
        await h.decide(proxied, card, BOB);
        const pid = await waiter(admin, lock.pid);
        // COMMIT is on the server, waiting; its answer will be thrown away, then the path heals.
        proxy.setMode("dropAnswers");
        await lock.release();
        await (async () => {
          for (let i = 0; i < 200; i++) {
            const { rows } = await admin.query(
              "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
              [pid],
            );
            if (rows.length === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        })();
        const committedAt = Date.now();
        expect((await replayState(failed)).jobs).toHaveLength(1);
        proxy.setMode("pass");
        // The client gives up on COMMIT after its query timeout (5 s), then asks what became of it.
        const done = await h.cardUpdate(card.ts, /^Done/);
        expect(Date.now() - committedAt).toBeLessThan(12_000);
        expect(textOf(done)).not.toContain("Nothing was changed");
        const state = await replayState(failed);
        expect(state.jobs).toHaveLength(1);
        expect(state.links).toEqual(state.jobs);
        expect(state.accepted).toEqual(state.jobs);
        expect((await h.confirmation(card.id)).status).toBe("done");
        expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual([
          "requested",
          "confirmed",
          "accepted",
        ]);
        expect(unhandled).toEqual([]);
      } finally {
        proxy.setMode("pass");
        await dropHold();
      }
    });

    it("says it may have partly run when COMMIT's answer is lost and Postgres cannot be asked", async () => {
      const key = `unknown_${d.oban.prefix}`;
      await holdCommit(key);
      try {
        const failed = await failedJob([5]);
        const card = await retryCard(proxied, failed);
        const lock = await holdLock(admin, key);
        await h.decide(proxied, card, BOB);
        await waiter(admin, lock.pid);
        // The path goes dark while COMMIT waits; the commit then happens, unseen by the bot.
        proxy.setMode("blackhole");
        const darkAt = Date.now();
        await lock.release();
        const update = await h.cardUpdate(card.ts, /^Failed: .* — Not done: postgres_unreachable/);
        // Query timeout (5 s), 3 s of asking Postgres again, then the (failing) state writes: connect 5 s.
        expect(Date.now() - darkAt).toBeLessThan(20_000);
        expect(textOf(update)).toContain("may have partly run");
        expect(textOf(update)).not.toContain("Nothing was changed");
        proxy.setMode("pass");
        // The failure's audit row says the same, once Postgres takes it.
        const failure = await eventually(
          async () => (await h.auditOf(card.id)).find((r) => r.outcome === "failed"),
          10_000,
          "the failed execution's audit row",
        );
        expect(failure).toMatchObject({
          reason: "postgres_unreachable",
          details: { nothing_changed: false },
        });
        // It did commit: the job, its replay link and its audit row, all together.
        const state = await replayState(failed);
        expect(state.jobs).toHaveLength(1);
        expect(state.links).toEqual(state.jobs);
        expect(state.accepted).toEqual(state.jobs);
        expect(unhandled).toEqual([]);
      } finally {
        proxy.setMode("pass");
        await dropHold();
      }
    });
  });

  it("a client killed while migrating fails that call, not the process; the next call migrates", async () => {
    const schema = `${stateName}_m`;
    const pool = operatorContext(bot.operator).db;
    const lock = await admin.connect();
    lock.on("error", () => {});
    try {
      await lock.query("BEGIN");
      await lock.query("SELECT pg_advisory_xact_lock(hashtext('scrypath_bot:migrate:' || $1))", [schema]);
      const { rows } = await lock.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const migrating = ensureState(pool, schema);
      migrating.catch(() => {});
      const pid = await waiter(admin, rows[0]?.pid as number);
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await expect(migrating).rejects.toThrow(/terminat/i);
      await lock.query("ROLLBACK");
      await ensureState(pool, schema);
      const { rows: tables } = await admin.query("SELECT to_regclass($1)::text AS t", [
        `"${schema}".confirmations`,
      ]);
      expect(tables[0]?.t).not.toBeNull();
      expect(unhandled).toEqual([]);
    } finally {
      lock.release();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});
