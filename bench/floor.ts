// The floor of an operation: the same SQL statements and Meilisearch HTTP requests it sends
// (captured from a real run, see measure.ts), replayed with plain `pool.query` and `fetch`, in
// the same concurrency structure as the operator code, without any mapping or classification.
// Each plan below mirrors the awaits of one operator function; the Picker checks that a plan
// uses every captured request exactly once, so a change in the operator's I/O fails loudly here.
import type pg from "pg";
import type { Capture, CapturedHttp, CapturedSql } from "./measure.ts";

export type Step = { sql: CapturedSql } | { http: CapturedHttp } | { all: Step[] } | { seq: Step[] };

/** When the operation sent a step's first request (steps of an `all` start in that order). */
function firstSent(step: Step): number {
  if ("sql" in step) return step.sql.seq;
  if ("http" in step) return step.http.seq;
  return Math.min(Number.POSITIVE_INFINITY, ...("all" in step ? step.all : step.seq).map(firstSent));
}

/**
 * Steps that run concurrently. They are started in the order the operation sent their first
 * request, so requests queue for the pool's connections in the same order as in the operation.
 */
export const all = (...steps: (Step | Step[])[]): Step => ({
  all: steps.flat().sort((a, b) => firstSent(a) - firstSent(b)),
});
/** Steps that run one after another. */
export const seq = (...steps: (Step | Step[])[]): Step => ({ seq: steps.flat() });

/** Hands out captured requests by predicate, each at most once. */
export class Picker {
  private readonly sqlLeft: CapturedSql[];
  private readonly httpLeft: CapturedHttp[];

  constructor(
    private readonly name: string,
    capture: Capture,
  ) {
    this.sqlLeft = [...capture.sql];
    this.httpLeft = [...capture.http];
  }

  /** Every remaining statement matching `test`, in capture order (possibly none). */
  sqlAll(test: (text: string) => boolean): Step[] {
    const picked = this.sqlLeft.filter((q) => test(q.text));
    for (const q of picked) this.sqlLeft.splice(this.sqlLeft.indexOf(q), 1);
    return picked.map((sql) => ({ sql }));
  }

  /** The first remaining statement matching `test`, if any (zero or one step). */
  sqlOptional(test: (text: string) => boolean): Step[] {
    const index = this.sqlLeft.findIndex((q) => test(q.text));
    return index < 0 ? [] : this.sqlLeft.splice(index, 1).map((sql) => ({ sql }));
  }

  /** Exactly one remaining statement matching `test`. */
  sql(test: (text: string) => boolean, what: string): Step {
    const index = this.sqlLeft.findIndex((q) => test(q.text));
    const [sql] = index < 0 ? [] : this.sqlLeft.splice(index, 1);
    if (!sql) throw new Error(`floor plan ${this.name}: the operation sent no ${what} statement`);
    return { sql };
  }

  httpAll(test: (url: URL) => boolean): Step[] {
    const picked = this.httpLeft.filter((r) => test(new URL(r.url)));
    for (const r of picked) this.httpLeft.splice(this.httpLeft.indexOf(r), 1);
    return picked.map((http) => ({ http }));
  }

  /** Throws unless every captured request went into the plan. */
  done(): void {
    const left = [
      ...this.sqlLeft.map((q) => `SQL: ${q.text.replace(/\s+/g, " ").slice(0, 160)}`),
      ...this.httpLeft.map((r) => `HTTP: ${r.method} ${r.url}`),
    ];
    if (left.length > 0) {
      throw new Error(`floor plan ${this.name} does not cover what the operation sent:\n${left.join("\n")}`);
    }
  }
}

export async function runStep(step: Step, pool: pg.Pool): Promise<void> {
  if ("sql" in step) {
    await pool.query(step.sql.text, step.sql.values);
  } else if ("http" in step) {
    const { url, method, headers, body } = step.http;
    const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    if (!res.ok) throw new Error(`floor request ${method} ${url} answered ${res.status}: ${text}`);
    JSON.parse(text);
  } else if ("all" in step) {
    await Promise.all(step.all.map((s) => runStep(s, pool)));
  } else {
    for (const s of step.seq) await runStep(s, pool);
  }
}

export function countRequests(step: Step): { sql: number; http: number } {
  if ("sql" in step) return { sql: 1, http: 0 };
  if ("http" in step) return { sql: 0, http: 1 };
  return (("all" in step ? step.all : step.seq) as Step[])
    .map(countRequests)
    .reduce((a, b) => ({ sql: a.sql + b.sql, http: a.http + b.http }), { sql: 0, http: 0 });
}

// --- Which captured request is which -------------------------------------------------------

const tasksOf = (index: string, status?: string) => (u: URL) =>
  u.pathname === "/tasks" &&
  u.searchParams.get("indexUids") === index &&
  (status === undefined || u.searchParams.get("statuses") === status);

/** The SQL texts of src/backends/obanJobs.ts and src/state, recognised by their shape. */
export const SQL = {
  countByState: (t: string) => /GROUP BY j\.state/.test(t),
  latestCompleted: (t: string) => /ORDER BY completed_at DESC/.test(t),
  newestJobs: (t: string) => /ORDER BY j\.id DESC LIMIT \$4/.test(t) && !/ORDER BY completed_at/.test(t),
  rollupCuts: (t: string) => /percentile_disc/.test(t),
  rollup: (t: string) => ROLLUP.test(t) && !REPLAYABLE_COUNT.test(t),
  replayableRollup: (t: string) => ROLLUP.test(t) && REPLAYABLE_COUNT.test(t),
  failedPage: (t: string) => /j\.id < \$4/.test(t) && !RETRYABLE.test(t),
  retryableFailedPage: (t: string) => /j\.id < \$4/.test(t) && RETRYABLE.test(t),
  stateExists: (t: string) => /to_regclass/.test(t),
  replays: (t: string) => /replay_links/.test(t) && !/reason_class/.test(t),
  // Bulk retry (bench/bulkRetry.ts): the filter's ids, the rows' payloads, and the replayable
  // terminal rows whose replay blocks a retry, by class.
  bulkMatches: (t: string) => /ORDER BY x\.id DESC/.test(t),
  findJobs: (t: string) => /WHERE j\.id = ANY\(\$1::bigint\[\]\) ORDER BY j\.id/.test(t),
  blockedByClass: (t: string) => /replay_links/.test(t) && /AS reason_class/.test(t),
  nextRetry: (t: string) => /min\(j\.scheduled_at\)/.test(t),
};
const RETRYABLE = /args @> '\{"operation": "upsert"/;
/** The class rollup (replayCounts also groups by two columns, but has no reason class). */
const ROLLUP = /AS reason_class,[\s\S]*GROUP BY 1, 2/;
const REPLAYABLE_COUNT = /FILTER \(WHERE x\.replayable\)/;

/** Names a captured statement after the backend function that sends it. */
export function sqlName(text: string): string {
  return (Object.keys(SQL) as (keyof typeof SQL)[]).find((k) => SQL[k](text)) ?? "unrecognised";
}

// --- Plans, one per benchmarked call ----------------------------------------------------------

/** statusOf: backend plane (3 task listings) ∥ queue plane (5 statements), all at once. */
function statusSteps(p: Picker, live: string): Step {
  return all(
    p.httpAll(tasksOf(live)),
    p.sqlAll(SQL.countByState),
    p.sqlAll(SQL.latestCompleted),
    p.sqlAll(SQL.newestJobs),
  );
}

/**
 * The triage tally's own reads beside the status planes (src/operator/tally.ts): when Oban next
 * retries ∥ (whether the state tables exist, then the replay counts). Its Meilisearch count of
 * failed tasks is one of the index's task requests, taken by the status plane's steps.
 */
function tallyExtraSteps(p: Picker): Step {
  return all(p.sqlAll(SQL.nextRetry), seq(p.sqlOptional(SQL.stateExists), p.sqlAll(SQL.replays)));
}

/** failedRollup: the id cuts (unless still cached), then one statement per id range, concurrently. */
function rollupSteps(p: Picker, variant: "plain" | "replayable"): Step {
  const parts = p.sqlAll(variant === "plain" ? SQL.rollup : SQL.replayableRollup);
  if (parts.length === 0) throw new Error(`floor plan: the operation sent no ${variant} rollup statement`);
  return seq(p.sqlOptional(SQL.rollupCuts), all(parts));
}

/**
 * failedWorkOf: (failed-task pages one after another ∥ the rollup, unless shared), then the
 * queue page if the page has room for queue rows, then (if it lists queue rows) the replay-link
 * lookups.
 */
function failedSteps(p: Picker, live: string, rollup: Step | null): Step {
  const pages = p.httpAll(tasksOf(live, "failed"));
  const queuePage = p.sqlOptional(SQL.failedPage);
  const replays = queuePage.length > 0 ? [p.sqlOptional(SQL.stateExists), p.sqlOptional(SQL.replays)] : [];
  return seq(all(seq(pages), rollup ? [rollup] : []), queuePage, ...replays);
}

export type PlanName = "failed" | "failedQueuePage" | "status" | "reconcile";

export function floorPlan(name: PlanName, capture: Capture, live: string, target: string): Step {
  const p = new Picker(name, capture);
  let plan: Step;
  switch (name) {
    case "status":
      plan = all(statusSteps(p, live), tallyExtraSteps(p));
      break;
    case "failed":
    case "failedQueuePage": {
      // failedWorkOf also reads the schema's tally: the pending tasks' count (the status-plane
      // step takes it; the failed tasks' count is the listing's total) ∥ the replay counts. The
      // queue's counts come from the rollup's pass.
      const failed = failedSteps(p, live, rollupSteps(p, "plain"));
      plan = all(failed, statusSteps(p, live), tallyExtraSteps(p));
      break;
    }
    case "reconcile":
      // reconcileOf: one shared rollup (with replayable counts) ∥ statusOf (pending states only)
      // ∥ failedWorkOf(limit 1) ∥ the retryable page ∥ targetFacts. The calls that await the
      // shared rollup end after it, as the `all` does.
      plan = all(
        rollupSteps(p, "replayable"),
        p.sql(SQL.retryableFailedPage, "retryable page"),
        failedSteps(p, live, null),
        statusSteps(p, live),
        all(p.httpAll(tasksOf(target))),
        tallyExtraSteps(p),
      );
      break;
  }
  p.done();
  return plan;
}
