// Which failed job was replayed as which new job, by whom and when.
import type { Queryable } from "../backends/postgres.ts";
import { FAILED_OBAN_STATES } from "../core/states.ts";
import { stateSchema } from "./migrations.ts";

export interface ReplayLink {
  failedJobId: number;
  replayJobId: number;
  requestedBy: string;
  createdAt: Date;
  /** The replay job's current Oban state; null when the row is gone (pruned). */
  replayState: string | null;
}

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
       j.state::text AS replay_state
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
      },
    ]),
  );
}

/**
 * The scope's failed jobs (retryable, discarded, cancelled) that the bot replayed, counted by the
 * failed job's state and the newest replay's current Oban state (null: the replay job is gone).
 * Aggregated in SQL from the replay links, which are few; the failed rows are never listed.
 */
export async function replayCounts(
  db: Queryable,
  stateName: string,
  scope: { prefix: string; queue: string; schema: string },
): Promise<{ failedState: string; replayState: string | null; count: number }[]> {
  const jobs = `${stateSchema(scope.prefix)}.oban_jobs`;
  const { rows } = await db.query<{ failed_state: string; replay_state: string | null; n: number }>(
    `SELECT f.state::text AS failed_state, r.state::text AS replay_state, count(*)::int AS n
     FROM (
       SELECT DISTINCT ON (l.failed_job_id) l.failed_job_id, l.replay_job_id
       FROM ${stateSchema(stateName)}.replay_links l
       WHERE l.oban_prefix = $3
       ORDER BY l.failed_job_id, l.created_at DESC, l.id DESC
     ) newest
     JOIN ${jobs} f ON f.id = newest.failed_job_id
     LEFT JOIN ${jobs} r ON r.id = newest.replay_job_id
     WHERE f.state::text = ANY($4::text[]) AND f.queue = $1 AND f.args @> $2::jsonb
     GROUP BY 1, 2`,
    [scope.queue, JSON.stringify({ schema: scope.schema }), scope.prefix, FAILED_OBAN_STATES],
  );
  return rows.map((r) => ({ failedState: r.failed_state, replayState: r.replay_state, count: r.n }));
}
