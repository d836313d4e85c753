// Which failed job was replayed as which new job, by whom and when.
import type { Queryable } from "../backends/postgres.ts";
import { FAILED_OBAN_STATES, QUEUE_FAILED_STATES } from "../core/states.ts";
import { isReplayVerdict, REPLAY_VERDICTS, type ReplayVerdict } from "../core/tally.ts";
import { stateSchema } from "./migrations.ts";

export interface ReplayLink {
  failedJobId: number;
  replayJobId: number;
  requestedBy: string;
  createdAt: Date;
  /** The replay job's current Oban state; null when the row is gone (pruned). */
  replayState: string | null;
  /** What following the replay established; null when nobody followed it to the end. */
  verification: ReplayVerdict | null;
}

/** A stored verdict and when it was recorded. */
export interface RecordedVerdict {
  verdict: ReplayVerdict;
  at: Date;
}

const verdictOf = (value: unknown): ReplayVerdict | null => (isReplayVerdict(value) ? value : null);

export async function recordReplay(
  db: Queryable,
  stateName: string,
  link: { obanPrefix: string; failedJobId: number; replayJobId: number; schema: string; requestedBy: string },
): Promise<void> {
  await db.query(
    `INSERT INTO ${stateSchema(stateName)}.replay_links
       (oban_prefix, failed_job_id, replay_job_id, schema_module, requested_by)
     VALUES ($1, $2, $3, $4, $5)`,
    [link.obanPrefix, link.failedJobId, link.replayJobId, link.schema, link.requestedBy],
  );
}

/** Many replay links in ONE statement, in the order given (the same columns as `recordReplay`). */
export async function recordReplays(
  db: Queryable,
  stateName: string,
  links: readonly {
    obanPrefix: string;
    failedJobId: number;
    replayJobId: number;
    schema: string;
    requestedBy: string;
  }[],
): Promise<void> {
  if (links.length === 0) return;
  await db.query(
    `INSERT INTO ${stateSchema(stateName)}.replay_links
       (oban_prefix, failed_job_id, replay_job_id, schema_module, requested_by)
     SELECT t.e->>'oban_prefix', (t.e->>'failed_job_id')::bigint, (t.e->>'replay_job_id')::bigint,
       t.e->>'schema_module', t.e->>'requested_by'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
     ORDER BY t.n`,
    [
      JSON.stringify(
        links.map((link) => ({
          oban_prefix: link.obanPrefix,
          failed_job_id: link.failedJobId,
          replay_job_id: link.replayJobId,
          schema_module: link.schema,
          requested_by: link.requestedBy,
        })),
      ),
    ],
  );
}

/**
 * The newest replay of each given failed job of one Oban prefix (job ids are per prefix), with
 * the replay job's current state.
 */
export async function latestReplays(
  db: Queryable,
  stateName: string,
  obanPrefix: string,
  failedJobIds: number[],
): Promise<Map<number, ReplayLink>> {
  if (failedJobIds.length === 0) return new Map();
  const { rows } = await db.query(
    `SELECT DISTINCT ON (l.failed_job_id) l.failed_job_id, l.replay_job_id, l.requested_by, l.created_at,
       l.verification, j.state::text AS replay_state
     FROM ${stateSchema(stateName)}.replay_links l
     LEFT JOIN ${stateSchema(obanPrefix)}.oban_jobs j ON j.id = l.replay_job_id
     WHERE l.oban_prefix = $1 AND l.failed_job_id = ANY($2::bigint[])
     ORDER BY l.failed_job_id, l.created_at DESC, l.id DESC`,
    [obanPrefix, failedJobIds],
  );
  return new Map(
    rows.map((r) => [
      Number(r.failed_job_id),
      {
        failedJobId: Number(r.failed_job_id),
        replayJobId: Number(r.replay_job_id),
        requestedBy: r.requested_by,
        createdAt: r.created_at,
        replayState: r.replay_state ?? null,
        verification: verdictOf(r.verification),
      },
    ]),
  );
}

/**
 * The scope's failed jobs (retryable, discarded, cancelled) that the bot replayed, counted by the
 * failed job's state, the newest replay's current Oban state (null: the replay job is gone) and
 * that replay's recorded verdict (null: not followed to the end).
 * Aggregated in SQL from the replay links, which are few; the failed rows are never listed.
 */
export async function replayCounts(
  db: Queryable,
  stateName: string,
  scope: { prefix: string; queue: string; schema: string },
): Promise<
  { failedState: string; replayState: string | null; verification: ReplayVerdict | null; count: number }[]
> {
  const jobs = `${stateSchema(scope.prefix)}.oban_jobs`;
  const { rows } = await db.query<{
    failed_state: string;
    replay_state: string | null;
    verification: string | null;
    n: number;
  }>(
    `SELECT f.state::text AS failed_state, r.state::text AS replay_state, newest.verification,
       count(*)::int AS n
     FROM (
       SELECT DISTINCT ON (l.failed_job_id) l.failed_job_id, l.replay_job_id, l.verification
       FROM ${stateSchema(stateName)}.replay_links l
       WHERE l.oban_prefix = $3
       ORDER BY l.failed_job_id, l.created_at DESC, l.id DESC
     ) newest
     JOIN ${jobs} f ON f.id = newest.failed_job_id
     LEFT JOIN ${jobs} r ON r.id = newest.replay_job_id
     WHERE f.state::text = ANY($4::text[]) AND f.queue = $1 AND f.args @> $2::jsonb
     GROUP BY 1, 2, 3`,
    [scope.queue, JSON.stringify({ schema: scope.schema }), scope.prefix, FAILED_OBAN_STATES],
  );
  return rows.map((r) => ({
    failedState: r.failed_state,
    replayState: r.replay_state,
    verification: verdictOf(r.verification),
    count: r.n,
  }));
}

/**
 * Records what following the replay job `replayJobId` of `obanPrefix` established, on the link
 * that made it (the newest with that job id). Idempotent and safe from several replicas at once:
 * a verdict replaces only a weaker one (REPLAY_VERDICTS), in one guarded UPDATE that Postgres
 * re-checks against a concurrent writer's row, so of two equal verdicts the first stays, with its
 * time. Resolves with the verdict that stands (null: no link has that replay job).
 */
export async function recordVerification(
  db: Queryable,
  stateName: string,
  link: { obanPrefix: string; replayJobId: number; verdict: ReplayVerdict },
): Promise<RecordedVerdict | null> {
  const table = `${stateSchema(stateName)}.replay_links`;
  const target = `(SELECT id FROM ${table} WHERE oban_prefix = $1 AND replay_job_id = $2
       ORDER BY created_at DESC, id DESC LIMIT 1)`;
  const updated = await db.query<{ verification: string; verification_at: Date }>(
    `UPDATE ${table} l SET verification = $3, verification_at = now()
     WHERE l.id = ${target}
       AND coalesce(array_position($4::text[], l.verification), 0) < array_position($4::text[], $3::text)
     RETURNING l.verification, l.verification_at`,
    [link.obanPrefix, link.replayJobId, link.verdict, REPLAY_VERDICTS],
  );
  // Not updated: a verdict at least as strong stands (or no link); read it in a fresh snapshot.
  const { rows } =
    updated.rows.length > 0
      ? updated
      : await db.query<{ verification: string; verification_at: Date }>(
          `SELECT verification, verification_at FROM ${table} WHERE id = ${target}`,
          [link.obanPrefix, link.replayJobId],
        );
  const row = rows[0];
  const verdict = verdictOf(row?.verification);
  return row && verdict ? { verdict, at: row.verification_at } : null;
}

/**
 * A SQL condition on a failed job row (`${job}`) of Oban prefix `$${param}`: its newest replay
 * resolved it (the replay completed, or was pruned after a completed or verified end), exactly as
 * core/tally's resolvesRow(replayOutcomeOf(...)) counts it.
 */
export function resolvedByReplaySql(
  stateName: string,
  obanPrefix: string,
  job: string,
  param: number,
): string {
  const jobs = `${stateSchema(obanPrefix)}.oban_jobs`;
  return `EXISTS (
    SELECT 1 FROM (
      SELECT l.replay_job_id, l.verification FROM ${stateSchema(stateName)}.replay_links l
      WHERE l.oban_prefix = $${param} AND l.failed_job_id = ${job}.id
      ORDER BY l.created_at DESC, l.id DESC LIMIT 1
    ) newest LEFT JOIN ${jobs} r ON r.id = newest.replay_job_id
    WHERE r.state = 'completed'
       OR (r.id IS NULL AND newest.verification IN ('verified', 'queue_only_completed')))`;
}

/**
 * A SQL condition on a failed job row (`${job}`) of Oban prefix `$${param}`: its newest replay
 * blocks another retry (the replay job is gone, or in any state but discarded and cancelled),
 * exactly as core/failedWork's replayBlocksRetry reads a replay link. Written as `= ANY` of an
 * id array computed once from the prefix's links (few), so the failed rows are fetched by primary
 * key instead of scanning the scope's failed rows to probe the links for each.
 */
export function blockedByReplaySql(
  stateName: string,
  obanPrefix: string,
  job: string,
  param: number,
): string {
  const jobs = `${stateSchema(obanPrefix)}.oban_jobs`;
  const notBlocking = QUEUE_FAILED_STATES.map((s) => `'${s}'`).join(", ");
  return `${job}.id = ANY(ARRAY(
    SELECT newest.failed_job_id FROM (
      SELECT DISTINCT ON (l.failed_job_id) l.failed_job_id, l.replay_job_id
      FROM ${stateSchema(stateName)}.replay_links l
      WHERE l.oban_prefix = $${param}
      ORDER BY l.failed_job_id, l.created_at DESC, l.id DESC
    ) newest LEFT JOIN ${jobs} r ON r.id = newest.replay_job_id
    WHERE r.id IS NULL OR r.state::text NOT IN (${notBlocking})))`;
}

/**
 * A cheap change mark of the replays of one Oban prefix: how many links, the newest, the newest
 * verdict, and how many replay jobs have finished (the bot's own small table, joined by primary key).
 */
export async function replayMarks(db: Queryable, stateName: string, obanPrefix: string): Promise<string> {
  const jobs = `${stateSchema(obanPrefix)}.oban_jobs`;
  const { rows } = await db.query<{
    n: string;
    max_id: string | null;
    verified_at: Date | null;
    done: string;
  }>(
    `SELECT count(*) AS n, max(l.id) AS max_id, max(l.verification_at) AS verified_at,
       count(*) FILTER (WHERE r.state IS NULL OR r.state::text IN ('completed', 'discarded', 'cancelled')) AS done
     FROM ${stateSchema(stateName)}.replay_links l LEFT JOIN ${jobs} r ON r.id = l.replay_job_id
     WHERE l.oban_prefix = $1`,
    [obanPrefix],
  );
  const r = rows[0];
  return r ? `${r.n}/${r.max_id ?? "-"}/${r.verified_at?.toISOString() ?? "-"}/${r.done}` : "";
}

/**
 * recordVerification for many replay jobs of `obanPrefix` in one statement (a bulk retry followed
 * as a group): each verdict lands on the newest link that made its job, and, as there, replaces
 * only a weaker one. Resolves with how many links changed.
 */
export async function recordVerifications(
  db: Queryable,
  stateName: string,
  obanPrefix: string,
  verdicts: readonly { replayJobId: number; verdict: ReplayVerdict }[],
): Promise<number> {
  if (verdicts.length === 0) return 0;
  const table = `${stateSchema(stateName)}.replay_links`;
  const { rowCount } = await db.query(
    `UPDATE ${table} l SET verification = t.verdict, verification_at = now()
     FROM (
       SELECT DISTINCT ON (n.replay_job_id) n.id, v.verdict
       FROM unnest($2::bigint[], $3::text[]) AS v(job, verdict)
       JOIN ${table} n ON n.oban_prefix = $1 AND n.replay_job_id = v.job
       ORDER BY n.replay_job_id, n.created_at DESC, n.id DESC
     ) t
     WHERE l.id = t.id
       AND coalesce(array_position($4::text[], l.verification), 0) < array_position($4::text[], t.verdict)`,
    [obanPrefix, verdicts.map((v) => v.replayJobId), verdicts.map((v) => v.verdict), REPLAY_VERDICTS],
  );
  return rowCount ?? 0;
}
