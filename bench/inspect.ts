// What the figures were measured on: the seeded dataset as the servers see it, the machine, and
// EXPLAIN (ANALYZE, BUFFERS) of every oban_jobs statement the operations sent.
import { readFileSync } from "node:fs";
import os from "node:os";
import type { Meilisearch } from "meilisearch";
import type pg from "pg";
import { classifyQueueJob } from "../src/core/reasonClass.ts";
import { FAILED_OBAN_STATES } from "../src/core/states.ts";
import { sqlName } from "./floor.ts";
import type { CapturedSql } from "./measure.ts";

export async function machine(pool: pg.Pool, meili: Meilisearch) {
  const cpu =
    readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model;
  const { rows } = await pool.query<{
    version: string;
    shared_buffers: string;
    work_mem: string;
    jit: string;
  }>(
    "SELECT version(), current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem, current_setting('jit') AS jit",
  );
  return {
    nproc: os.availableParallelism(),
    cpu,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: rows[0]?.version.split(" on ")[0],
    postgresSettings: {
      shared_buffers: rows[0]?.shared_buffers,
      work_mem: rows[0]?.work_mem,
      jit: rows[0]?.jit,
    },
    meilisearch: (await meili.getVersion()).pkgVersion,
  };
}

/**
 * Row counts by state (whole table and the benchmarked schema's scope), the schema's failed
 * rows by state and reason class (classified in JS by core/reasonClass, streamed in batches),
 * and table/index sizes.
 */
export async function describeObanJobs(
  pool: pg.Pool,
  prefix: string,
  scope: { queue: string; schema: string },
) {
  const t = `"${prefix}".oban_jobs`;
  const args = JSON.stringify({ schema: scope.schema });
  const [all, inScope, sizes] = await Promise.all([
    pool.query<{ state: string; n: number }>(
      `SELECT state::text, count(*)::int AS n FROM ${t} GROUP BY 1 ORDER BY 1`,
    ),
    pool.query<{ state: string; n: number }>(
      `SELECT state::text, count(*)::int AS n FROM ${t} WHERE queue = $1 AND args @> $2::jsonb GROUP BY 1 ORDER BY 1`,
      [scope.queue, args],
    ),
    pool.query<Record<string, string>>(
      `SELECT pg_size_pretty(pg_relation_size(c.oid)) AS heap,
              pg_size_pretty(pg_total_relation_size(c.reltoastrelid)) AS toast,
              pg_size_pretty(pg_indexes_size(c.oid)) AS indexes,
              pg_size_pretty(pg_total_relation_size(c.oid)) AS total
       FROM pg_class c WHERE c.oid = '${t}'::regclass`,
    ),
  ]);
  const byState = (rows: { state: string; n: number }[]) =>
    Object.fromEntries(rows.map((r) => [r.state, r.n]));

  const failed: Record<string, Record<string, number>> = {};
  let errorBytes = 0;
  let errorEntries = 0;
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: string; state: string; last: unknown; n: number; bytes: number }>(
      `SELECT id, state::text, errors[array_length(errors, 1)] AS last, cardinality(errors) AS n,
              coalesce(octet_length(array_to_string(errors, '')), 0) AS bytes
       FROM ${t} WHERE state = ANY($1::text[]::"${prefix}".oban_job_state[]) AND queue = $2 AND args @> $3::jsonb AND id > $4
       ORDER BY id LIMIT 5000`,
      [FAILED_OBAN_STATES, scope.queue, args, after],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const byClass = failed[row.state] ?? {};
      failed[row.state] = byClass;
      const cls = classifyQueueJob(row.state, row.last);
      byClass[cls] = (byClass[cls] ?? 0) + 1;
      errorEntries += row.n;
      errorBytes += row.bytes;
    }
    after = Number(rows[rows.length - 1]?.id);
  }
  return {
    rows: Object.values(byState(all.rows)).reduce((a, b) => a + b, 0),
    byState: byState(all.rows),
    benchmarkedSchema: {
      ...scope,
      byState: byState(inScope.rows),
      failedByStateAndClass: failed,
      errorEntries,
      meanErrorTextBytes: errorEntries > 0 ? Math.round(errorBytes / errorEntries) : 0,
    },
    sizes: sizes.rows[0],
  };
}

/** Task counts by index and status (exact `total`s of the tasks API). */
export async function describeTasks(meili: Meilisearch, indexes: string[]) {
  const statuses = ["succeeded", "failed", "enqueued", "processing", "canceled"] as const;
  const count = async (filter: Record<string, unknown>) =>
    (await meili.tasks.getTasks({ ...filter, limit: 0 } as Parameters<Meilisearch["tasks"]["getTasks"]>[0]))
      .total;
  const byIndex: Record<string, Record<string, number>> = {};
  for (const index of indexes) {
    const entry: Record<string, number> = {};
    for (const status of statuses) {
      const n = await count({ indexUids: [index], statuses: [status] });
      if (n > 0) entry[status] = n;
    }
    for (const type of ["indexCreation", "settingsUpdate", "documentAdditionOrUpdate", "documentDeletion"]) {
      entry[type] = await count({ indexUids: [index], types: [type] });
    }
    byIndex[index] = entry;
  }
  return {
    total: await count({ indexUids: indexes }),
    serverTotal: await count({}),
    byIndex,
  };
}

export interface Explained {
  statement: string;
  sentBy: string[];
  params: unknown[];
  indexes: string[];
  seqScan: boolean;
  executionMs: number | null;
  plan: string[];
}

/** EXPLAIN (ANALYZE, BUFFERS) of each distinct oban_jobs statement (text + parameters). */
export async function explainAll(
  pool: pg.Pool,
  statements: { op: string; sql: CapturedSql }[],
): Promise<Explained[]> {
  const distinct = new Map<string, { sql: CapturedSql; ops: Set<string> }>();
  for (const { op, sql } of statements) {
    if (!sql.text.includes(".oban_jobs")) continue;
    const key = JSON.stringify([sql.text, sql.values]);
    const entry = distinct.get(key) ?? { sql, ops: new Set<string>() };
    entry.ops.add(op);
    distinct.set(key, entry);
  }
  const out: Explained[] = [];
  for (const { sql, ops } of distinct.values()) {
    const { rows } = await pool.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${sql.text}`,
      sql.values,
    );
    const plan = rows.map((r) => r["QUERY PLAN"]);
    const indexes = new Set<string>();
    for (const line of plan) {
      const m = /(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using |on )(\S+)/.exec(
        line,
      );
      if (m?.[1]) indexes.add(m[1]);
    }
    const execution = plan.map((l) => /Execution Time: ([\d.]+) ms/.exec(l)?.[1]).find(Boolean);
    out.push({
      statement: sqlName(sql.text),
      sentBy: [...ops],
      params: sql.values.map((v) => (typeof v === "string" && v.length > 80 ? `${v.slice(0, 80)}…` : v)),
      indexes: [...indexes],
      seqScan: plan.some((l) => /Seq Scan on oban_jobs/.test(l)),
      executionMs: execution ? Number(execution) : null,
      plan,
    });
  }
  return out;
}
