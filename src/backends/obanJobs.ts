// All SQL over `oban_jobs`, in one place. Every query is parameterised, scoped the way
// Scrypath's reference inspector scopes it (queue + `args.schema`), and written so Oban's own
// indexes serve it: `state = ANY(...) AND queue = $n` for the (state, queue, …) btree and
// `args @> {"schema": …}` for the GIN index on args.
import { QUEUE_TEXT_RULES } from "../core/reasonClass.ts";
import {
  FAILED_OBAN_STATES,
  QUEUE_FAILED_STATES,
  QUEUE_RETRYING_STATES,
  UNFINISHED_STATES,
} from "../core/states.ts";
import type { FailedRollupCell, ObanJob, ReasonClass } from "../core/types.ts";
import type { Queryable } from "./postgres.ts";

/** Which jobs belong to a schema: its Oban prefix, queue and `Elixir.`-prefixed module. */
export interface ObanScope {
  prefix: string;
  queue: string;
  schema: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function table(prefix: string): string {
  if (!IDENTIFIER.test(prefix)) throw new Error(`invalid Oban prefix ${JSON.stringify(prefix)}`);
  return `"${prefix}".oban_jobs`;
}

function stateArray(prefix: string): string {
  return `"${prefix}".oban_job_state[]`;
}

/** The WHERE clause shared by every scoped query; $1 states, $2 queue, $3 schema filter. */
function scoped(prefix: string): string {
  return `state = ANY($1::${stateArray(prefix)}) AND queue = $2 AND args @> $3::jsonb`;
}

function scopeParams(scope: ObanScope, states: readonly string[]): unknown[] {
  return [states, scope.queue, JSON.stringify({ schema: scope.schema })];
}

const LAST_ERROR = "j.errors[array_length(j.errors, 1)]";

// Scrypath's `retryable?` (§3.1): the payload can be replayed (core/failedWork
// replayPayloadAvailable). `{"documents": []}` is contained exactly when `documents` is an
// array; containment walks the stored jsonb instead of copying the payload out as `->` would.
// Wrapped in a CASE so the planner does not estimate it at ~1 row and sort every failed row
// instead of walking the primary key backward (1.3 s → 1 ms on 60,000 failed rows; BENCHMARKS.md).
const RETRYABLE_SQL = `(CASE WHEN j.args @> '{"operation": "upsert", "documents": []}'
  OR j.args @> '{"operation": "delete", "document_ids": []}' THEN true ELSE false END)`;

// The signal text of the newest error in array `a` (spec §3.3 step 1, as core/reasonClass reads
// it): a string element as is; an object's `error` field when that is a string, else nothing;
// any other shape stringified; no errors → NULL.
function signalText(a: string): string {
  const last = `${a}[array_length(${a}, 1)]`;
  return `CASE jsonb_typeof(${last})
    WHEN 'string' THEN ${last} #>> '{}'
    WHEN 'object' THEN CASE WHEN jsonb_typeof(${last} -> 'error') = 'string' THEN ${last} ->> 'error' END
    WHEN 'null' THEN NULL
    ELSE ${last}::text
  END`;
}

function literal(value: string): string {
  if (!/^[a-z0-9._]+$/.test(value)) throw new Error(`unexpected rule literal ${value}`);
  return `'${value}'`;
}

/**
 * The reason class of a job row, compiled from the same rule table the TypeScript classifier
 * uses (core/reasonClass), so the SQL rollup and the per-row class cannot disagree.
 */
export const REASON_CLASS_SQL = (() => {
  const whens = QUEUE_TEXT_RULES.map((rule) => {
    const conditions = rule.substrings.map((s) => `strpos(x.lt, ${literal(s)}) > 0`);
    if (rule.wholeWordNumbers.length > 0) {
      const numbers = rule.wholeWordNumbers.map((n) => n.replace(/[^0-9]/g, ""));
      // The regex scans the whole text (~3 µs for 800 bytes); most texts hold none of the
      // numbers' two-digit prefixes, which LIKE rules out for a fraction of that.
      const prefixes = [...new Set(numbers.map((n) => n.slice(0, 2)))];
      const gate = prefixes.map((p) => `x.t LIKE '%${p}%'`).join(" OR ");
      conditions.push(`((${gate}) AND x.t ~ '(^|[^A-Za-z0-9_])(${numbers.join("|")})([^A-Za-z0-9_]|$)')`);
    }
    return `WHEN ${conditions.join(" OR ")} THEN ${literal(rule.reasonClass)}`;
  });
  return `CASE ${whens.join(" ")} WHEN x.state = 'discarded' THEN 'queue_exhausted' ELSE 'unknown' END`;
})();

/**
 * The scoped rows with their newest error's signal text (`x.id, x.state, x.t, x.lt`), computed
 * once per row, and, when asked, whether each row is replayable (`x.replayable`). Each level is
 * fenced with OFFSET 0: inlined, the planner re-read and re-decompressed the whole errors array
 * in every branch of the class CASE (40× per row); `errors || '{}'` detoasts it once. See
 * BENCHMARKS.md.
 */
function classifiedRows(
  prefix: string,
  where: string,
  withReplayable = false,
  failedOnly = "",
  /** The row's time carried as `x.at`. */
  atColumn = "j.scheduled_at",
): string {
  const carry = (alias: string) => (withReplayable ? `, ${alias}.replayable` : "");
  // With `failedOnly` (a condition on j.state), other rows carry no errors array: not detoasted.
  const errors = failedOnly
    ? `CASE WHEN ${failedOnly} THEN j.errors || '{}'::jsonb[] END`
    : "j.errors || '{}'::jsonb[]";
  return `(SELECT y.id, y.state, y.at, y.t, lower(y.t) AS lt${carry("y")} FROM (
      SELECT le.id, le.state, le.at, ${signalText("le.a")} AS t${carry("le")} FROM (
        SELECT j.id, j.state, ${atColumn} AS at, ${errors} AS a${withReplayable ? `, ${RETRYABLE_SQL} AS replayable` : ""}
        FROM ${table(prefix)} j WHERE ${where} OFFSET 0
      ) le OFFSET 0
    ) y OFFSET 0) x`;
}

// Listings never load document payloads (a batch can hold megabytes): `documents` is reduced
// to the list of document ids. Retry re-reads the full row at the moment it acts.
const LISTED_ARGS = `CASE WHEN jsonb_typeof(j.args -> 'documents') = 'array'
    THEN jsonb_set(j.args, '{documents}', jsonb_path_query_array(j.args -> 'documents', '$[*].id'))
    ELSE j.args END`;

const JOB_COLUMNS = `j.id, j.state::text AS state, j.queue, j.worker, ${LISTED_ARGS} AS args,
  ${LAST_ERROR} AS last_error, j.errors[1] AS first_error, j.attempt, j.max_attempts,
  j.attempted_at, j.completed_at, j.inserted_at, j.scheduled_at,
  to_char(j.completed_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS completed_at_iso`;

interface JobRow {
  id: number;
  state: string;
  queue: string;
  worker: string;
  args: Record<string, unknown> | null;
  last_error: unknown;
  first_error: unknown;
  attempt: number;
  max_attempts: number;
  attempted_at: Date | null;
  completed_at: Date | null;
  /** node-pg's Date keeps milliseconds; the text keeps Postgres's microseconds. */
  completed_at_iso?: string | null;
  inserted_at: Date | null;
  scheduled_at?: Date | null;
}

function toJob(row: JobRow): ObanJob {
  return {
    // Numbers even on a pool without our int8 parser (see backends/postgres.ts).
    id: Number(row.id),
    state: row.state,
    queue: row.queue,
    worker: row.worker,
    args: row.args ?? {},
    lastError: row.last_error ?? null,
    firstError: row.first_error ?? null,
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    attemptedAt: row.attempted_at,
    completedAt: row.completed_at,
    completedAtIso: row.completed_at_iso ?? null,
    insertedAt: row.inserted_at,
    scheduledAt: row.scheduled_at ?? null,
  };
}

const enumCache = new WeakMap<object, Map<string, Promise<Set<string>>>>();

/** The labels of `<prefix>.oban_job_state` (`suspended` only exists from migration 14 on). */
export function enumLabels(db: Queryable, prefix: string): Promise<Set<string>> {
  const byPrefix = enumCache.get(db) ?? new Map<string, Promise<Set<string>>>();
  enumCache.set(db, byPrefix);
  let labels = byPrefix.get(prefix);
  if (!labels) {
    labels = db
      .query<{ label: string }>(`SELECT unnest(enum_range(NULL::"${prefix}".oban_job_state))::text AS label`)
      .then((r) => new Set(r.rows.map((row) => row.label)));
    labels.catch(() => byPrefix.delete(prefix));
    byPrefix.set(prefix, labels);
  }
  return labels;
}

/** Keep only states this database's enum has, so older Oban schemas are read without errors. */
async function knownStates(db: Queryable, prefix: string, states: readonly string[]): Promise<string[]> {
  const labels = await enumLabels(db, prefix);
  return states.filter((s) => labels.has(s));
}

/** Exact job counts per Oban state for the scope, for the given states only. */
export async function countByState(
  db: Queryable,
  scope: ObanScope,
  states: readonly string[],
): Promise<Record<string, number>> {
  const known = await knownStates(db, scope.prefix, states);
  const { rows } = await db.query<{ state: string; n: number }>(
    `SELECT j.state::text AS state, count(*)::int AS n FROM ${table(scope.prefix)} j
     WHERE ${scoped(scope.prefix)} GROUP BY j.state`,
    scopeParams(scope, known),
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** The newest jobs (highest id first) in the given states. */
export async function newestJobs(
  db: Queryable,
  scope: ObanScope,
  states: readonly string[],
  limit: number,
): Promise<ObanJob[]> {
  const known = await knownStates(db, scope.prefix, states);
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM ${table(scope.prefix)} j
     WHERE ${scoped(scope.prefix)} ORDER BY j.id DESC LIMIT $4`,
    [...scopeParams(scope, known), limit],
  );
  return rows.map(toJob);
}

/**
 * The most recently completed job. Completed rows can be millions, so this reads the newest
 * few by id (a backward primary-key walk) and picks the latest `completed_at` among them.
 */
export async function latestCompleted(db: Queryable, scope: ObanScope, window = 20): Promise<ObanJob | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT * FROM (
       SELECT ${JOB_COLUMNS} FROM ${table(scope.prefix)} j
       WHERE ${scoped(scope.prefix)} ORDER BY j.id DESC LIMIT $4
     ) newest ORDER BY completed_at DESC NULLS LAST, id DESC LIMIT 1`,
    [...scopeParams(scope, ["completed"]), window],
  );
  return rows[0] ? toJob(rows[0]) : null;
}

export interface FailedFilter {
  reasonClass?: ReasonClass;
  retryableOnly?: boolean;
}

/** The scope's failed rows, restricted to replayable ones when asked. */
function failedWhere(prefix: string, filter: FailedFilter, extra = ""): string {
  return `${scoped(prefix)}${filter.retryableOnly ? ` AND ${RETRYABLE_SQL}` : ""}${extra}`;
}

/**
 * The rollup is classified in up to this many concurrent statements, each over its own range of
 * job ids. Postgres does not run a bitmap scan of Oban's (state, queue, …) index in parallel,
 * and one backend classifies 60,000 failed rows in ~0.7 s of CPU; two ranges use two cores, as
 * one parallel worker would, and no more (BENCHMARKS.md).
 */
const ROLLUP_PARTITIONS = 2;
/** Below this many failed jobs in the queue, one statement beats splitting. */
const ROLLUP_PARTITION_MIN_ROWS = 10_000;

/** How long a measured cut is reused: it only balances the ranges, every row is counted anyway. */
const CUTS_TTL_MS = 60_000;
const cutsCache = new WeakMap<object, Map<string, { at: number; n: number; cuts: number[] }>>();

/**
 * Job ids that cut the queue's failed jobs into ROLLUP_PARTITIONS ranges of about equal size,
 * or none when there are too few to be worth it. An index-only scan of the (state, queue, …)
 * index (about 15 ms for 74,000 entries), so neither `args` nor the heap is read; reused for a
 * minute per queue, since a stale cut costs balance, never exactness.
 */
async function rollupCuts(
  db: Queryable,
  scope: ObanScope,
  states: string[],
  minRows: number,
): Promise<number[]> {
  const byScope = cutsCache.get(db) ?? new Map<string, { at: number; n: number; cuts: number[] }>();
  cutsCache.set(db, byScope);
  const key = JSON.stringify([scope.prefix, scope.queue, states]);
  let entry = byScope.get(key);
  if (!entry || Date.now() - entry.at > CUTS_TTL_MS) {
    const fractions = Array.from({ length: ROLLUP_PARTITIONS - 1 }, (_, i) => (i + 1) / ROLLUP_PARTITIONS);
    const { rows } = await db.query<{ n: number; cuts: (number | string)[] | null }>(
      `SELECT count(*)::int AS n, percentile_disc($3::float8[]) WITHIN GROUP (ORDER BY j.id) AS cuts
       FROM ${table(scope.prefix)} j WHERE state = ANY($1::${stateArray(scope.prefix)}) AND queue = $2`,
      [states, scope.queue, fractions],
    );
    const cuts = [...new Set((rows[0]?.cuts ?? []).map(Number))].sort((a, b) => a - b);
    entry = { at: Date.now(), n: rows[0]?.n ?? 0, cuts };
    byScope.set(key, entry);
  }
  return entry.n < minRows ? [] : entry.cuts;
}

/**
 * The scope's failed work (retryable, discarded, cancelled) counted by state and reason class,
 * exactly, aggregated in SQL; with `replayable`, also how many of each cell can be replayed.
 */
export async function failedRollup(
  db: Queryable,
  scope: ObanScope,
  options: { replayable?: boolean; minRowsToSplit?: number } = {},
): Promise<FailedRollupCell[]> {
  return (await scopeRollup(db, scope, options)).failed;
}

export interface ScopeRollup {
  /** The failed rows by state and reason class (as failedRollup). */
  failed: FailedRollupCell[];
  /** Rows per state of `pendingStates` (those the enum has), counted in the same statements. */
  pending: Record<string, number>;
}

/**
 * failedRollup, and in the same pass the scope's rows in `pendingStates` counted per state
 * (status's pending bucket): one scan behind the same index bitmaps instead of a second
 * statement that builds the GIN bitmap on `args` again. The extra rows are only counted: their
 * errors are neither detoasted nor classified.
 */
export async function scopeRollup(
  db: Queryable,
  scope: ObanScope,
  options: { replayable?: boolean; minRowsToSplit?: number; pendingStates?: readonly string[] } = {},
): Promise<ScopeRollup> {
  const failedStates = await knownStates(db, scope.prefix, FAILED_OBAN_STATES);
  const pendingStates = await knownStates(db, scope.prefix, options.pendingStates ?? []);
  // The cuts balance the failed rows, which cost the classification; pending rows are only counted.
  const cuts = await rollupCuts(db, scope, failedStates, options.minRowsToSplit ?? ROLLUP_PARTITION_MIN_ROWS);
  // Ranges (-∞, c1], (c1, c2], …, (ck, ∞): every row in exactly one. The id bound is served by
  // the last column of the (state, queue, priority, scheduled_at, id) index.
  const ranges = [null, ...cuts].map((low, i) => ({ low, high: cuts[i] ?? null }));
  const withReplayable = options.replayable === true;
  const withPending = pendingStates.length > 0;
  const parts = await Promise.all(
    ranges.map(({ low, high }) => {
      const params: unknown[] = scopeParams(scope, failedStates);
      const stateType = stateArray(scope.prefix);
      // Pending rows: `OR` a second state list, which the planner serves with a BitmapOr of two
      // scans of the (state, queue, …) index under the same GIN bitmap (one list of all states
      // made it drop that index for a bitmap of the primary key's id range). Their class is NULL:
      // their errors are neither detoasted nor classified, they are only counted per state.
      let where = withPending
        ? `(state = ANY($1::${stateType}) OR state = ANY($${params.push(pendingStates)}::${stateType})) AND queue = $2 AND args @> $3::jsonb`
        : scoped(scope.prefix);
      const failed = withPending ? `state = ANY($1::${stateType})` : "";
      if (low !== null) where += ` AND j.id > $${params.push(low)}`;
      if (high !== null) where += ` AND j.id <= $${params.push(high)}`;
      const reasonClass = withPending
        ? `CASE WHEN x.${failed} THEN ${REASON_CLASS_SQL} END`
        : REASON_CLASS_SQL;
      return db.query<{
        state: string;
        reason_class: ReasonClass | null;
        n: number;
        replayable: number | null;
        first_at: Date | null;
      }>(
        `SELECT x.state::text AS state, ${reasonClass} AS reason_class, count(*)::int AS n,
           ${withReplayable ? "count(*) FILTER (WHERE x.replayable)::int" : "NULL::int"} AS replayable,
           min(x.at) AS first_at
         FROM ${classifiedRows(scope.prefix, where, withReplayable, failed && `j.${failed}`)}
         GROUP BY 1, 2`,
        params,
      );
    }),
  );
  const cells = new Map<string, FailedRollupCell>();
  const pending: Record<string, number> = {};
  for (const row of parts.flatMap((part) => part.rows)) {
    if (row.reason_class === null) {
      pending[row.state] = (pending[row.state] ?? 0) + row.n;
      continue;
    }
    const key = `${row.state}:${row.reason_class}`;
    const cell = cells.get(key) ?? {
      state: row.state,
      reasonClass: row.reason_class,
      count: 0,
      replayable: null,
      firstScheduledAt: null,
    };
    cell.count += row.n;
    if (row.first_at && (!cell.firstScheduledAt || row.first_at < cell.firstScheduledAt)) {
      cell.firstScheduledAt = row.first_at;
    }
    if (row.replayable !== null) cell.replayable = (cell.replayable ?? 0) + row.replayable;
    cells.set(key, cell);
  }
  return { failed: [...cells.values()], pending };
}

/**
 * The scope's replayable rows in `states` that `only` selects (a SQL condition on the row `j`
 * written with parameter `$4`, e.g. state/replayLinks.ts blockedByReplaySql), by reason class
 * (the rollup's classification). Meant for a few rows the condition picks by id: only they are
 * classified, and payloads are not read (containment only).
 */
export async function replayableByClass(
  db: Queryable,
  scope: ObanScope,
  states: readonly string[],
  only: { sql: string; param: unknown },
): Promise<Partial<Record<ReasonClass, number>>> {
  const known = await knownStates(db, scope.prefix, states);
  if (known.length === 0) return {};
  const where = `${scoped(scope.prefix)} AND ${RETRYABLE_SQL} AND ${only.sql}`;
  const { rows } = await db.query<{ reason_class: ReasonClass; n: number }>(
    `SELECT ${REASON_CLASS_SQL} AS reason_class, count(*)::int AS n
     FROM ${classifiedRows(scope.prefix, where)}
     GROUP BY 1`,
    [...scopeParams(scope, known), only.param],
  );
  return Object.fromEntries(rows.map((r) => [r.reason_class, r.n]));
}

/** One page of failed jobs, newest first, continuing below `beforeId` (keyset cursor). */
export async function failedJobsPage(
  db: Queryable,
  scope: ObanScope,
  options: FailedFilter & { beforeId?: number | null; limit: number },
): Promise<ObanJob[]> {
  const known = await knownStates(db, scope.prefix, FAILED_OBAN_STATES);
  const params: unknown[] = [...scopeParams(scope, known), options.beforeId ?? null, options.limit];
  if (options.reasonClass) params.push(options.reasonClass);
  const where = failedWhere(scope.prefix, options, " AND ($4::bigint IS NULL OR j.id < $4)");
  // Filtering by class classifies the scope's rows once (as the rollup does), then reads the page.
  const byClass = options.reasonClass
    ? ` AND j.id IN (SELECT x.id FROM ${classifiedRows(scope.prefix, where)} WHERE (${REASON_CLASS_SQL}) = $6)`
    : ` AND ${where}`;
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM ${table(scope.prefix)} j
     WHERE true${byClass}
     ORDER BY j.id DESC LIMIT $5`,
    params,
  );
  return rows.map(toJob);
}

/** A failed row a bulk filter matched: its state, failure time and whether it can be replayed. */
export interface FailedMatch {
  id: number;
  state: string;
  /** When it last failed: `attempted_at` (else `inserted_at`). */
  at: Date | null;
  replayable: boolean;
}

/**
 * Every failed row of the scope in `states` whose class is `reasonClass` (the same classification
 * as the rollup and the listing), failed at or after `since`; newest first. Payloads are not read.
 */
export async function failedMatches(
  db: Queryable,
  scope: ObanScope,
  filter: { reasonClass: ReasonClass; states: readonly string[]; since?: Date | null },
): Promise<FailedMatch[]> {
  const known = await knownStates(db, scope.prefix, filter.states);
  if (known.length === 0) return [];
  const params: unknown[] = [
    ...scopeParams(scope, known),
    filter.since?.toISOString() ?? null,
    filter.reasonClass,
  ];
  // Oban stores UTC in timestamp columns: compare in UTC whatever the session's time zone.
  const where = `${scoped(scope.prefix)} AND ($4::timestamptz IS NULL OR coalesce(j.attempted_at, j.inserted_at) >= ($4::timestamptz AT TIME ZONE 'UTC'))`;
  const { rows } = await db.query<{ id: number; state: string; at: Date | null; replayable: boolean }>(
    `SELECT x.id, x.state::text AS state, x.at, x.replayable
     FROM ${classifiedRows(scope.prefix, where, true, "", "coalesce(j.attempted_at, j.inserted_at)")}
     WHERE (${REASON_CLASS_SQL}) = $5
     ORDER BY x.id DESC`,
    params,
  );
  return rows.map((r) => ({ id: Number(r.id), state: r.state, at: r.at, replayable: r.replayable === true }));
}

/** Jobs by id with their full args (documents included); missing ids are left out. */
export async function findJobs(db: Queryable, prefix: string, ids: readonly number[]): Promise<ObanJob[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<JobRow>(
    `SELECT j.id, j.state::text AS state, j.queue, j.worker, j.args,
       ${LAST_ERROR} AS last_error, j.errors[1] AS first_error, j.attempt, j.max_attempts,
       j.attempted_at, j.completed_at, j.inserted_at, j.scheduled_at
     FROM ${table(prefix)} j WHERE j.id = ANY($1::bigint[]) ORDER BY j.id`,
    [ids],
  );
  return rows.map(toJob);
}

/** One job by id with its full args (documents included), or null. */
export async function findJob(db: Queryable, prefix: string, id: number): Promise<ObanJob | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT j.id, j.state::text AS state, j.queue, j.worker, j.args,
       ${LAST_ERROR} AS last_error, j.errors[1] AS first_error, j.attempt, j.max_attempts,
       j.attempted_at, j.completed_at, j.inserted_at, j.scheduled_at
     FROM ${table(prefix)} j WHERE j.id = $1`,
    [id],
  );
  return rows[0] ? toJob(rows[0]) : null;
}

export interface NewJob {
  worker: string;
  queue: string;
  args: Record<string, unknown>;
  maxAttempts: number;
  meta?: Record<string, unknown>;
}

export interface InsertedJob {
  id: number;
  worker: string;
  queue: string;
  state: string;
  attempt: number;
  maxAttempts: number;
}

/** What an insert returns of each new job, and how it reads. */
const INSERTED_COLUMNS = "j.id, j.worker, j.queue, j.state::text AS state, j.attempt, j.max_attempts";
interface InsertedRow {
  id: number;
  worker: string;
  queue: string;
  state: string;
  attempt: number;
  max_attempts: number;
}
const insertedJob = (row: InsertedRow): InsertedJob => ({
  id: Number(row.id),
  worker: row.worker,
  queue: row.queue,
  state: row.state,
  attempt: Number(row.attempt),
  maxAttempts: Number(row.max_attempts),
});

/**
 * Insert one job the way Oban's guide for other languages does: `available` now, UTC
 * timestamps, no uniqueness. Then wake the queue's producers (Oban's stager would within ~1 s).
 */
export async function insertObanJob(db: Queryable, prefix: string, job: NewJob): Promise<InsertedJob> {
  const { rows } = await db.query<InsertedRow>(
    `INSERT INTO ${table(prefix)} AS j (state, queue, worker, args, meta, max_attempts, attempt, errors, scheduled_at, inserted_at)
     VALUES ('available', $1, $2, $3::jsonb, $4::jsonb, $5, 0, '{}', timezone('UTC', now()), timezone('UTC', now()))
     RETURNING ${INSERTED_COLUMNS}`,
    [job.queue, job.worker, JSON.stringify(job.args), JSON.stringify(job.meta ?? {}), job.maxAttempts],
  );
  await db.query("SELECT pg_notify($1, $2)", [`${prefix}.oban_insert`, JSON.stringify({ queue: job.queue })]);
  const row = rows[0];
  if (!row) throw new Error("INSERT into oban_jobs returned no row");
  return insertedJob(row);
}

/**
 * Insert many jobs in ONE statement, with exactly `insertObanJob`'s column values (`available`
 * now, UTC timestamps, no uniqueness, each job's own args and meta), returned in the order given;
 * then wake each queue's producers once (one `pg_notify` per queue, not per job: Postgres folds
 * identical notifications of one transaction into one anyway).
 * The rows are inserted in the order of `jobs` (ORDER BY the ordinality) and RETURNING gives them
 * back in the order the executor inserted them, which is how the ids are matched to `jobs`: not a
 * documented guarantee, but how PostgreSQL's executor works (one row at a time from the sorted
 * input); the count is checked here, and test/operator/bulkRetryBatch.test.ts checks each new
 * job's `replay_of` against the failed job its link and audit row name.
 */
export async function insertObanJobs(
  db: Queryable,
  prefix: string,
  jobs: readonly NewJob[],
): Promise<InsertedJob[]> {
  if (jobs.length === 0) return [];
  const input = jobs.map((job) => ({
    queue: job.queue,
    worker: job.worker,
    args: job.args,
    meta: job.meta ?? {},
    max_attempts: job.maxAttempts,
  }));
  const { rows } = await db.query<InsertedRow>(
    `INSERT INTO ${table(prefix)} AS j (state, queue, worker, args, meta, max_attempts, attempt, errors, scheduled_at, inserted_at)
     SELECT 'available', t.e->>'queue', t.e->>'worker', t.e->'args', t.e->'meta', (t.e->>'max_attempts')::int,
       0, '{}', timezone('UTC', now()), timezone('UTC', now())
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
     ORDER BY t.n
     RETURNING ${INSERTED_COLUMNS}`,
    [JSON.stringify(input)],
  );
  if (rows.length !== jobs.length)
    throw new Error(`INSERT into oban_jobs returned ${rows.length} rows for ${jobs.length} jobs`);
  const queues = [...new Set(jobs.map((job) => job.queue))];
  await db.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [
    `${prefix}.oban_insert`,
    queues.map((queue) => JSON.stringify({ queue })),
  ]);
  return rows.map(insertedJob);
}

/** The newest unfinished job of `worker` whose args contain `match`, if any. */
export async function unfinishedJob(
  db: Queryable,
  prefix: string,
  worker: string,
  match: Record<string, unknown>,
): Promise<{ id: number; state: string; args: Record<string, unknown> } | null> {
  const known = await knownStates(db, prefix, UNFINISHED_STATES);
  const { rows } = await db.query<{ id: number; state: string; args: Record<string, unknown> }>(
    `SELECT j.id, j.state::text AS state, j.args FROM ${table(prefix)} j
     WHERE j.state = ANY($1::${stateArray(prefix)}) AND j.worker = $2 AND j.args @> $3::jsonb
     ORDER BY j.id DESC LIMIT 1`,
    [known, worker, JSON.stringify(match)],
  );
  const row = rows[0];
  return row ? { id: Number(row.id), state: row.state, args: row.args } : null;
}

/** Current states of the given jobs (missing ids are absent: pruned or deleted). */
export async function jobStates(db: Queryable, prefix: string, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; state: string }>(
    `SELECT j.id, j.state::text AS state FROM ${table(prefix)} j WHERE j.id = ANY($1::bigint[])`,
    [ids],
  );
  return new Map(rows.map((r) => [Number(r.id), r.state]));
}

/** When Oban next tries one of the scope's retryable jobs: the earliest `scheduled_at`, or null. */
export async function nextRetryAt(db: Queryable, scope: ObanScope): Promise<Date | null> {
  const known = await knownStates(db, scope.prefix, QUEUE_RETRYING_STATES);
  if (known.length === 0) return null;
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(j.scheduled_at) AS at FROM ${table(scope.prefix)} j WHERE ${scoped(scope.prefix)}`,
    scopeParams(scope, known),
  );
  return rows[0]?.at ?? null;
}

/** Per-state count and newest id of a queue's rows in `states` (the change fingerprint's Postgres half). */
export interface StateMark {
  state: string;
  count: number;
  maxId: number | null;
}

/**
 * A cheap change detector for a queue: count and newest id per state, for the given states. Only
 * `state` and `queue` are filtered, so Oban's (state, queue, priority, scheduled_at, id) index
 * answers it with an index-only scan (no heap, no args GIN bitmap, no errors detoasted): a row
 * that fails, is discarded, cancelled or retried again changes a count. Queue-wide, not per
 * schema: a change in the queue makes every schema of it look again, which costs a recheck, never
 * a missed change.
 */
export async function queueMarks(
  db: Queryable,
  prefix: string,
  queue: string,
  states: readonly string[],
): Promise<StateMark[]> {
  const known = await knownStates(db, prefix, states);
  if (known.length === 0) return [];
  const { rows } = await db.query<{ state: string; n: string; max_id: string | null }>(
    `SELECT j.state::text AS state, count(*) AS n, max(j.id) AS max_id FROM ${table(prefix)} j
     WHERE j.state = ANY($1::${stateArray(prefix)}) AND j.queue = $2 GROUP BY j.state ORDER BY 1`,
    [known, queue],
  );
  return rows.map((r) => ({
    state: r.state,
    count: Number(r.n),
    maxId: r.max_id === null ? null : Number(r.max_id),
  }));
}

/** Recent terminal rows of one class: how many, and the oldest and newest failure. */
export interface RecentCell {
  reasonClass: ReasonClass;
  count: number;
  oldestAt: Date;
  newestAt: Date;
}

/**
 * The scope's terminal rows (discarded, cancelled) whose last attempt was at or after `since`, by
 * reason class (the rollup's classification). `exclude`, a SQL condition on the row `j` written
 * with parameter `$5` (see state/replayLinks.ts resolvedByReplaySql), leaves rows out, with
 * `excludeParam` as `$5`. Read only when the change fingerprint moved.
 */
export async function recentTerminal(
  db: Queryable,
  scope: ObanScope,
  since: Date,
  exclude?: { sql: string; param: unknown },
): Promise<RecentCell[]> {
  const known = await knownStates(db, scope.prefix, QUEUE_FAILED_STATES);
  if (known.length === 0) return [];
  const params = [...scopeParams(scope, known), since];
  let where = `${scoped(scope.prefix)} AND j.attempted_at >= $4`;
  if (exclude) {
    params.push(exclude.param);
    where += ` AND NOT (${exclude.sql})`;
  }
  const { rows } = await db.query<{ reason_class: ReasonClass; n: number; oldest: Date; newest: Date }>(
    `SELECT ${REASON_CLASS_SQL} AS reason_class, count(*)::int AS n, min(x.at) AS oldest, max(x.at) AS newest
     FROM ${classifiedRows(scope.prefix, where, false, "", "j.attempted_at")}
     GROUP BY 1 ORDER BY 2 DESC, 1`,
    params,
  );
  return rows.map((r) => ({
    reasonClass: r.reason_class,
    count: r.n,
    oldestAt: r.oldest,
    newestAt: r.newest,
  }));
}

/** The scope's terminal row that failed last at or after `since` (null: none), listed like failed work. */
export async function newestTerminal(db: Queryable, scope: ObanScope, since: Date): Promise<ObanJob | null> {
  const known = await knownStates(db, scope.prefix, QUEUE_FAILED_STATES);
  if (known.length === 0) return null;
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS} FROM ${table(scope.prefix)} j
     WHERE ${scoped(scope.prefix)} AND j.attempted_at >= $4
     ORDER BY j.attempted_at DESC, j.id DESC LIMIT 1`,
    [...scopeParams(scope, known), since],
  );
  return rows[0] ? toJob(rows[0]) : null;
}

/**
 * Pending work of a queue (available, scheduled to run already): how many, and the oldest
 * `scheduled_at`. Served by the (state, queue, priority, scheduled_at, id) index.
 */
export async function queueBacklog(
  db: Queryable,
  scope: ObanScope,
  now: Date,
): Promise<{ pending: number; oldestAt: Date | null }> {
  const { rows } = await db.query<{ n: string; oldest: Date | null }>(
    `SELECT count(*) AS n, min(j.scheduled_at) AS oldest FROM ${table(scope.prefix)} j
     WHERE j.state = 'available' AND j.queue = $1 AND j.scheduled_at <= $2`,
    [scope.queue, now],
  );
  return { pending: Number(rows[0]?.n ?? 0), oldestAt: rows[0]?.oldest ?? null };
}

/** A group of jobs by Oban state, with the terminal ones (discarded, cancelled) by reason class. */
export interface GroupStateCell {
  state: string;
  /** Set for terminal rows only: the class of their newest error. */
  reasonClass: ReasonClass | null;
  count: number;
}

/**
 * The jobs `ids` counted per state in one statement over the primary key; only the terminal rows'
 * newest error is read and classified (the rollup's classification), other rows' errors and every
 * row's args are never read. Ids no longer in the table are simply absent.
 */
export async function groupStateCounts(
  db: Queryable,
  prefix: string,
  ids: readonly number[],
): Promise<GroupStateCell[]> {
  if (ids.length === 0) return [];
  const terminal = await knownStates(db, prefix, QUEUE_FAILED_STATES);
  const isTerminal = `j.state = ANY($2::${stateArray(prefix)})`;
  const { rows } = await db.query<{ state: string; reason_class: ReasonClass | null; n: number }>(
    `SELECT x.state::text AS state,
       CASE WHEN x.state = ANY($2::${stateArray(prefix)}) THEN ${REASON_CLASS_SQL} END AS reason_class,
       count(*)::int AS n
     FROM ${classifiedRows(prefix, "j.id = ANY($1::bigint[])", false, isTerminal)}
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [ids, terminal],
  );
  return rows.map((r) => ({ state: r.state, reasonClass: r.reason_class, count: r.n }));
}

/** A completed job's first document, for sampling whether its work reached the index. */
export interface SampledJob {
  id: number;
  index: string;
  operation: "upsert" | "delete";
  /** Upserts: the first of `documents` ({id, data}); deletes: the first of `document_ids`. */
  document: { id: string | number; data?: Record<string, unknown> } | null;
}

/**
 * Up to `limit` completed jobs of `ids` (lowest id first) other than `exclude`, each with only
 * its first document read out of its args: the ids are picked on the primary key first, so no
 * other row's args are read.
 */
export async function sampleCompletedJobs(
  db: Queryable,
  prefix: string,
  ids: readonly number[],
  exclude: readonly number[],
  limit: number,
): Promise<SampledJob[]> {
  if (ids.length === 0 || limit <= 0) return [];
  const { rows } = await db.query<{
    id: number;
    operation: string | null;
    index: string | null;
    document: { id: string | number; data?: Record<string, unknown> } | null;
    document_id: string | number | null;
  }>(
    `WITH picked AS (
       SELECT j.id FROM ${table(prefix)} j
       WHERE j.id = ANY($1::bigint[]) AND j.state = 'completed' AND NOT (j.id = ANY($2::bigint[]))
       ORDER BY j.id LIMIT $3
     )
     SELECT j.id, j.args ->> 'operation' AS operation, j.args ->> 'index' AS index,
       jsonb_path_query_first(j.args, '$.documents[0]') AS document,
       jsonb_path_query_first(j.args, '$.document_ids[0]') AS document_id
     FROM ${table(prefix)} j JOIN picked USING (id) ORDER BY j.id`,
    [ids, exclude, limit],
  );
  return rows.map((r) => {
    const operation = r.operation === "delete" ? "delete" : "upsert";
    const upsert = r.document && (typeof r.document.id === "string" || typeof r.document.id === "number");
    const document =
      operation === "upsert"
        ? upsert && r.document
          ? { id: r.document.id, data: r.document.data ?? {} }
          : null
        : r.document_id !== null
          ? { id: r.document_id }
          : null;
    return { id: Number(r.id), index: r.index ?? "", operation, document };
  });
}
