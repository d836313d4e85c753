// A bulk retry's batches are set-based (a few statements per batch, whatever its size) and write
// exactly what single retries write: the same new jobs, replay links and audit rows, field by
// field; racing single retries of the same ids over two pools, each id is replayed once with no
// deadlock; and a batch killed after its multi-row inserts leaves none of its rows.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import type { DbPool } from "../../src/backends/postgres.ts";
import { RefusedError } from "../../src/errors.ts";
import { bulkDeployments, insertFailed, insertFailedJobs } from "../support/bulk.ts";
import { testPool } from "../support/db.ts";
import type { TestDeployment } from "../support/operator.ts";
import { POST } from "../support/posts.ts";

const actor = { id: "U_ALICE", context: { channel: "C1", confirmation_id: "c-1" } };

const { deployment, replica, onClose } = bulkDeployments();

/** Hands `onQuery` each statement the pool's clients send. */
function counting(onQuery: (text: string) => void) {
  return (pool: DbPool) => {
    const wrapped = new WeakSet<object>();
    pool.on("acquire", (client) => {
      if (wrapped.has(client)) return;
      wrapped.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        const first = args[0];
        onQuery(typeof first === "string" ? first : ((first as { text?: string })?.text ?? ""));
        return query(...args);
      };
    });
  };
}

const failedJob = (d: TestDeployment, args: Record<string, unknown>) =>
  insertFailed(d, args, { errorAttempt: 3 });
const failed = (d: TestDeployment, live: string, n: number) =>
  insertFailedJobs(d, live, n, { errorAttempt: 3 });

/** The new jobs, keyed by the failed job they replay: every column but id and the timestamps. */
async function replayRows(d: TestDeployment): Promise<Map<number, Record<string, unknown>>> {
  const { rows } = await d.oban.pool.query(
    `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of, scheduled_at = inserted_at AS same_times,
       inserted_at > timezone('UTC', now()) - interval '10 minutes' AS recent,
       to_jsonb(j) - 'id' - 'inserted_at' - 'scheduled_at' AS row
     FROM "${d.oban.prefix}".oban_jobs j WHERE meta ? 'scrypath_bot'`,
  );
  return new Map(rows.map((r) => [r.of, { ...r.row, same_times: r.same_times, recent: r.recent }]));
}

/** The replay links, keyed by failed job id (the replay job checked to be the one replaying it). */
async function linkRows(d: TestDeployment): Promise<Map<number, Record<string, unknown>>> {
  const { rows } = await d.oban.pool.query(
    `SELECT l.failed_job_id::int AS of, (j.meta->'scrypath_bot'->>'replay_of')::int AS replay_of,
       to_jsonb(l) - 'id' - 'failed_job_id' - 'replay_job_id' - 'created_at' AS row
     FROM "${d.config.state.schema}".replay_links l
     JOIN "${d.oban.prefix}".oban_jobs j ON j.id = l.replay_job_id`,
  );
  return new Map(rows.map((r) => [r.of, { ...r.row, replay_of: r.replay_of }]));
}

/** The accepted audit rows, keyed by failed job id (new_job_id checked against the replay job). */
async function auditRows(d: TestDeployment): Promise<Map<number, Record<string, unknown>>> {
  const { rows } = await d.oban.pool.query(
    `SELECT (a.target->>'id')::int AS of, (j.meta->'scrypath_bot'->>'replay_of')::int AS replay_of,
       to_jsonb(a) - 'id' - 'at' AS row
     FROM "${d.config.state.schema}".audit_log a
     LEFT JOIN "${d.oban.prefix}".oban_jobs j ON j.id = (a.target->>'new_job_id')::bigint
     WHERE a.outcome = 'accepted'`,
  );
  return new Map(rows.map((r) => [r.of, { ...r.row, replay_of: r.replay_of }]));
}

async function count(d: TestDeployment, sql: string): Promise<number> {
  return (await d.oban.pool.query(sql)).rows[0].n;
}

describe("a bulk retry's batches", () => {
  it("write, field by field, the rows single retries write for the same failed jobs", async () => {
    const { d, live } = await deployment();
    // Twin failed jobs (upserts of one and several documents, deletes): one of each pair retried
    // alone, the other in one bulk batch.
    const payloads = [
      upsertArgs(POST, live, [1]),
      upsertArgs(POST, live, [2, 3, 4]),
      deleteArgs(POST, live, [5]),
      upsertArgs(POST, live, [6]),
      deleteArgs(POST, live, [7, 8]),
    ];
    const singles: number[] = [];
    const bulk: number[] = [];
    for (const args of payloads) {
      singles.push(await failedJob(d, args));
      bulk.push(await failedJob(d, args));
    }
    for (const id of singles) await d.operator.retrySyncWork("posts", id, actor);
    const result = await d.operator.executeBulkRetry("posts", bulk, actor, { batchSize: 100 });
    expect(result).toMatchObject({ batches: 1, failedBatches: 0, skipped: {} });
    expect(result.replayed.map((r) => r.id)).toEqual(bulk);

    const jobs = await replayRows(d);
    const links = await linkRows(d);
    const audits = await auditRows(d);
    expect(jobs.size).toBe(10);
    expect(links.size).toBe(10);
    expect(audits.size).toBe(10);
    payloads.forEach((_, i) => {
      const single = singles[i] as number;
      const batched = bulk[i] as number;
      // The new job: same columns; only replay_of differs (each names its own failed job).
      const mine = jobs.get(batched) as Record<string, unknown>;
      const theirs = jobs.get(single) as Record<string, unknown>;
      expect(mine).toMatchObject({ state: "available", attempt: 0, same_times: true, recent: true });
      expect((mine.meta as { scrypath_bot: unknown }).scrypath_bot).toEqual({
        replay_of: batched,
        requested_by: actor.id,
      });
      const withoutOf = (row: Record<string, unknown>) => ({
        ...row,
        meta: { ...(row.meta as object), scrypath_bot: { requested_by: actor.id } },
      });
      expect(withoutOf(mine)).toEqual(withoutOf(theirs));
      // Its id is the one the result reports, the link and the audit row name.
      const jobId = result.replayed[i]?.jobId;
      // The replay link: same columns, and its replay job replays this failed job.
      expect(links.get(batched)).toEqual({ ...links.get(single), replay_of: batched });
      expect(links.get(batched)?.replay_of).toBe(batched);
      // The audit row: same columns; target names its own jobs; details say bulk.
      const a = audits.get(batched) as Record<string, unknown>;
      const b = audits.get(single) as Record<string, unknown>;
      expect(a.replay_of).toBe(batched);
      expect(a.target).toEqual({ source: "oban", id: batched, new_job_id: jobId });
      expect(a.details).toEqual({ ...(b.details as object), bulk: true });
      const rest = (row: Record<string, unknown>) => ({
        ...row,
        target: null,
        details: null,
        replay_of: null,
      });
      expect(rest(a)).toEqual(rest(b));
      expect(a).toMatchObject({ actor: actor.id, outcome: "accepted", reason: null, context: actor.context });
    });
  });

  it("send a few statements per batch, not a few per replay", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 40);
    const texts: string[] = [];
    const counted = replica(d, { onPool: counting((text) => texts.push(text)) });
    const result = await counted.executeBulkRetry("posts", ids, actor, { batchSize: 20 });
    expect(result.replayed).toHaveLength(40);
    expect(result.batches).toBe(2);
    const inserts = texts.filter((t) => /^\s*INSERT INTO/i.test(t));
    // Per batch: the jobs, the links, the audit rows, one multi-row insert each.
    expect(inserts).toHaveLength(2 * 3);
    const locks = texts.filter((t) => t.includes("pg_advisory_xact_lock"));
    expect(locks).toHaveLength(2);
    // BEGIN, locks, rows, links, jobs, notify, links, audit, COMMIT: nine per batch (and the
    // state tables' migration check), against seven per replay before.
    expect(texts.length).toBeLessThanOrEqual(2 * 9 + 2);
  });

  it("replay each id once, with no deadlock, racing 20 single retries of the same ids over two pools", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 20);
    const other = replica(d);
    // Single retries in descending id order against batches locking in ascending order.
    const singles = [...ids].reverse().map((id, i) =>
      (i % 2 === 0 ? other : d.operator).retrySyncWork("posts", id, actor).then(
        () => ({ id, ok: true as const }),
        (error: unknown) => {
          if (error instanceof RefusedError && error.reason === "already_replayed")
            return { id, ok: false as const };
          throw error;
        },
      ),
    );
    const bulkRun = d.operator.executeBulkRetry("posts", ids, actor, { batchSize: 5 });
    const otherBulk = other.executeBulkRetry("posts", ids, actor, { batchSize: 7 });
    const [outcomes, first, second] = await Promise.all([Promise.all(singles), bulkRun, otherBulk]);
    expect(first.failedBatches).toBe(0);
    expect(second.failedBatches).toBe(0);
    const byBulk = [...first.replayed, ...second.replayed].map((r) => r.id);
    const bySingle = outcomes.filter((o) => o.ok).map((o) => o.id);
    expect([...byBulk, ...bySingle].sort((a, b) => a - b)).toEqual(ids);
    const skipped = (first.skipped.already_replayed ?? 0) + (second.skipped.already_replayed ?? 0);
    expect(skipped).toBe(2 * ids.length - byBulk.length);
    const { rows } = await d.oban.pool.query(
      `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of FROM "${d.oban.prefix}".oban_jobs
       WHERE meta ? 'scrypath_bot' ORDER BY 1`,
    );
    expect(rows.map((r) => r.of)).toEqual(ids);
    expect((await linkRows(d)).size).toBe(ids.length);
    expect((await auditRows(d)).size).toBe(ids.length);
  });

  it("leave none of a batch's rows when its backend is killed after its multi-row inserts", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 5);
    const state = `"${d.config.state.schema}"`;
    const admin: pg.Pool = testPool(2);
    onClose(() => admin.end());
    const sequence = `pg_get_serial_sequence('"${d.oban.prefix}".oban_jobs', 'id')`;
    const seqValue = async () =>
      Number(
        (
          await admin.query(
            `SELECT last_value FROM ${(await admin.query(`SELECT ${sequence} AS s`)).rows[0].s}`,
          )
        ).rows[0].last_value,
      );
    const before = await seqValue();
    // Hold back the audit insert: the batch has inserted its jobs and links, and waits there.
    const holder = await admin.connect();
    holder.on("error", () => {});
    let held = true;
    const letGo = async () => {
      if (!held) return;
      held = false;
      await holder.query("ROLLBACK");
      holder.release();
    };
    onClose(letGo);
    await holder.query("BEGIN");
    await holder.query(`LOCK TABLE ${state}.audit_log IN SHARE MODE`);
    const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const run = d.operator.executeBulkRetry("posts", ids, actor, { batchSize: 5 });
    let victim: number | null = null;
    for (let i = 0; i < 800 && victim === null; i++) {
      const { rows } = await admin.query(
        "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        [holderPid],
      );
      victim = rows[0]?.pid ?? null;
      if (victim === null) await new Promise((r) => setTimeout(r, 25));
    }
    expect(victim).not.toBeNull();
    // Every job of the batch was inserted before the audit insert (the sequence moved by 5).
    expect((await seqValue()) - before).toBe(5);
    await admin.query("SELECT pg_terminate_backend($1)", [victim]);
    const result = await run;
    await letGo();

    expect(result).toMatchObject({ batches: 0, failedBatches: 1, notAttempted: 5, replayed: [] });
    expect(result.error?.code).toMatch(/^postgres_/);
    expect(
      await count(
        d,
        `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs WHERE meta ? 'scrypath_bot'`,
      ),
    ).toBe(0);
    expect(await count(d, `SELECT count(*)::int AS n FROM ${state}.replay_links`)).toBe(0);
    expect(
      await count(d, `SELECT count(*)::int AS n FROM ${state}.audit_log WHERE outcome = 'accepted'`),
    ).toBe(0);

    // Asking again replays the five, once.
    const again = await d.operator.executeBulkRetry("posts", ids, actor);
    expect(again.replayed.map((r) => r.id)).toEqual(ids);
    expect((await replayRows(d)).size).toBe(5);
  });
});
