import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { countByState, failedJobsPage, failedRollup, scopeRollup } from "../../src/backends/obanJobs.ts";
import { formatFailed } from "../../src/cli/format.ts";
import { failedJson } from "../../src/cli/json.ts";
import { replayPayloadAvailable } from "../../src/core/failedWork.ts";
import { classifyQueueJob } from "../../src/core/reasonClass.ts";
import { QUEUE_PENDING_STATES } from "../../src/core/states.ts";
import { REASON_CLASSES } from "../../src/core/types.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

describe("failedSyncWork over real Postgres and Meilisearch", () => {
  let d: TestDeployment;
  let live: string;
  const ids = {} as Record<
    "validation" | "transport" | "backendRejected" | "exhausted" | "unknown" | "stringError",
    number
  >;
  let backendUid: number;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    const { pool, prefix } = d.oban;
    const at = new Date("2026-11-20T10:00:00Z");
    // The e-commerce demo's reference fixtures (§3.3), with Oban's real error objects.
    ids.validation = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [1]),
      errors: [obanError('** (Ecto.CastError) cannot cast "abc" to :integer')],
      attempt: 8,
      maxAttempts: 8,
      attemptedAt: at,
    });
    ids.transport = await insertJob(pool, prefix, {
      state: "retryable",
      queue: QUEUE,
      args: upsertArgs(POST, live, [2]),
      errors: [obanError("** (Req.TransportError) timeout connecting to 127.0.0.1:7700")],
      attempt: 1,
    });
    ids.backendRejected = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [3]),
      errors: [
        obanError("invalid_state: index is processing a batch", 1),
        obanError("invalid_state: again", 2),
      ],
      attempt: 2,
      maxAttempts: 2,
    });
    ids.exhausted = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [4]),
      errors: [obanError("** (RuntimeError) boom")],
      attempt: 8,
      maxAttempts: 8,
    });
    ids.unknown = await insertJob(pool, prefix, {
      state: "retryable",
      queue: QUEUE,
      args: deleteArgs(POST, live, [5]),
      errors: [obanError("** (RuntimeError) unclassified failure")],
      attempt: 1,
    });
    // A plain-string first error is used verbatim as `reason`; a cancelled job without payload.
    ids.stringError = await insertJob(pool, prefix, {
      state: "cancelled",
      queue: QUEUE,
      args: {
        operation: "upsert",
        schema: `Elixir.${POST}`,
        index: live,
        meilisearch_api_key: "sk-live-123",
      },
      errors: ["{:invalid_job, :missing_documents} api_key=sk-live-123"],
      attempt: 1,
    });
    // Not failed work: completed and available jobs.
    await insertJob(pool, prefix, { state: "completed", queue: QUEUE, args: upsertArgs(POST, live) });
    await insertJob(pool, prefix, { state: "available", queue: QUEUE, args: upsertArgs(POST, live) });
    backendUid = (await failDocumentTask(d.meili, live, "missing_primary_key")).uid;
  });
  afterAll(() => d?.close());

  it("lists backend rows first, then queue rows newest first, with upstream's fields", async () => {
    const r = await d.operator.failedSyncWork("posts");
    expect(r.entries.map((e) => `${e.source}:${e.id}`)).toEqual([
      `meilisearch:${backendUid}`,
      `oban:${ids.stringError}`,
      `oban:${ids.unknown}`,
      `oban:${ids.exhausted}`,
      `oban:${ids.backendRejected}`,
      `oban:${ids.transport}`,
      `oban:${ids.validation}`,
    ]);
    const [backend, ...queue] = r.entries;
    expect(backend).toMatchObject({
      source: "meilisearch",
      state: "failed",
      retryable: false,
      operation: "upsert",
      reasonClass: "validation",
      attempt: null,
      recovery: null,
      metadata: { index: live, taskUid: backendUid, type: "documentAdditionOrUpdate" },
    });
    expect(backend?.reason).toMatch(/primary key/);
    const byId = Object.fromEntries(queue.map((e) => [e.id, e]));
    expect(byId[ids.validation]).toMatchObject({
      reasonClass: "validation",
      state: "failed",
      retryable: true,
      reason: "queue job failed",
    });
    expect(byId[ids.transport]).toMatchObject({
      reasonClass: "transport",
      state: "retrying",
      reason: "queue job is retryable",
    });
    expect(byId[ids.backendRejected]).toMatchObject({
      reasonClass: "backend_rejected",
      attempt: 2,
      maxAttempts: 2,
    });
    expect(byId[ids.exhausted]).toMatchObject({ reasonClass: "queue_exhausted" });
    expect(byId[ids.unknown]).toMatchObject({ reasonClass: "unknown", operation: "delete", retryable: true });
    expect(byId[ids.stringError]).toMatchObject({ reasonClass: "unknown", retryable: false, recovery: null });
    expect(byId[ids.stringError]?.reason).toContain("{:invalid_job, :missing_documents}");
    expect(byId[ids.validation]?.failedAt?.toISOString()).toBe("2026-11-20T10:00:00.000Z");
    expect(byId[ids.validation]?.recovery).toMatchObject({
      kind: "retry",
      mode: "oban",
      operation: "upsert",
      index: live,
      reference: { jobId: ids.validation, queue: QUEUE },
    });
    // lastError: the newest error's first line, credentials redacted.
    expect(byId[ids.backendRejected]?.lastError).toBe("invalid_state: again");
    expect(byId[ids.stringError]?.lastError).not.toContain("sk-live-123");
  });

  it("rolls up every failed row by class in canonical order", async () => {
    const r = await d.operator.failedSyncWork("posts");
    expect(r.counts).toEqual({
      version: 1,
      total: 7,
      byClass: { transport: 1, validation: 2, backend_rejected: 1, queue_exhausted: 1, unknown: 2 },
    });
    expect(formatFailed(r, { classSummary: true }).slice(0, 4)).toEqual([
      "Schema: MyApp.Blog.Post",
      "Failed work: 7",
      "Failed work by class:",
      "  transport=1, validation=2, backend_rejected=1, queue_exhausted=1, unknown=2",
    ]);
    expect(formatFailed(r, { classSummary: false })[2]).toMatch(
      /^- id=\d+ source=meilisearch state=failed operation=upsert retryable=no reason_class=validation reason=/,
    );
    expect(formatFailed(r, { classSummary: false })).toContain(
      `- id=${ids.transport} source=oban state=retrying operation=upsert retryable=yes reason_class=transport reason=queue job is retryable`,
    );
  });

  it("filters by class and source, recomputing the counts for the filtered rows", async () => {
    const validation = await d.operator.failedSyncWork("posts", { reasonClass: "validation" });
    expect(validation.entries.map((e) => e.id)).toEqual([backendUid, ids.validation]);
    expect(validation.counts.total).toBe(2);
    expect(validation.counts.byClass.validation).toBe(2);
    const oban = await d.operator.failedSyncWork("posts", { source: "oban", reasonClass: "validation" });
    expect(oban.entries.map((e) => e.id)).toEqual([ids.validation]);
    const meili = await d.operator.failedSyncWork("posts", { source: "meilisearch" });
    expect(meili.entries.map((e) => e.source)).toEqual(["meilisearch"]);
    expect(meili.counts.total).toBe(1);
  });

  it("pages with a cursor across both sources without gaps or repeats", async () => {
    const all = (await d.operator.failedSyncWork("posts")).entries.map((e) => `${e.source}:${e.id}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await d.operator.failedSyncWork("posts", { limit: 2, cursor });
      seen.push(...page.entries.map((e) => `${e.source}:${e.id}`));
      expect(page.counts.total).toBe(7);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(all);
    expect(pages).toBe(4);
    await expect(d.operator.failedSyncWork("posts", { cursor: "x1" })).rejects.toThrow(/invalid cursor/);
  });

  it("never loads document payloads into listings", async () => {
    const r = await d.operator.failedSyncWork("posts", { source: "oban" });
    const row = r.entries.find((e) => e.id === ids.validation);
    expect(row?.recovery?.reference?.payload.documents).toEqual([1]);
  });

  it("classifies in SQL exactly as the TypeScript rules do", async () => {
    const { pool: seedPool, prefix } = d.oban;
    const pool = operatorContext(d.operator).db;
    const texts = [
      "HTTP 429 Too Many Requests",
      "id 4290 failed",
      "status_429",
      "got 503 from upstream",
      "got 510 from upstream",
      "{:timeout, %{task_uid: 12}}",
      "** (ArgumentError) bad arg with timeout",
      "Database_Size_Limit reached",
      "no_space_left_on_device",
      "** (Mint.TransportError) closed",
      "401",
      "(403)",
      "a_408_b",
      "ünïcode 500 ✓",
      "",
    ];
    const shapes: unknown[][] = [
      ...texts.map((t) => [obanError(t)]),
      ...texts.map((t) => [t]),
      [],
      [{ attempt: 1, at: "2026-11-20T10:00:00Z" }],
      [{ error: { nested: "timeout" } }],
      [obanError("first"), "429 second"],
      [null],
      [42],
    ];
    // Payload shapes for the replayable count (core's replayPayloadAvailable decides).
    const payloads: Record<string, unknown>[] = [
      upsertArgs(POST, live),
      deleteArgs(POST, live),
      { ...upsertArgs(POST, live), documents: "not a list" },
      { ...upsertArgs(POST, live), documents: { id: 1 } },
      { ...deleteArgs(POST, live), document_ids: null },
      { ...upsertArgs(POST, live), operation: ["upsert"] },
      { schema: `Elixir.${POST}`, documents: [] },
    ];
    const scope = { prefix, queue: "parity", schema: `Elixir.${POST}` };
    const expected = new Map<number, string>();
    const cells = new Map<string, { count: number; replayable: number }>();
    let k = 0;
    for (const state of ["retryable", "discarded", "cancelled"]) {
      for (const errors of shapes) {
        const args = payloads[k++ % payloads.length] ?? {};
        const id = await insertJob(seedPool, prefix, { state, queue: "parity", args, errors });
        const reasonClass = classifyQueueJob(state, errors[errors.length - 1] ?? null);
        expected.set(id, reasonClass);
        const cell = cells.get(`${state}:${reasonClass}`) ?? { count: 0, replayable: 0 };
        cell.count += 1;
        if (replayPayloadAvailable(args)) cell.replayable += 1;
        cells.set(`${state}:${reasonClass}`, cell);
      }
    }
    for (const reasonClass of REASON_CLASSES) {
      const rows = await failedJobsPage(pool, scope, { reasonClass, limit: 1000 });
      const want = [...expected]
        .filter(([, c]) => c === reasonClass)
        .map(([id]) => id)
        .sort((a, b) => b - a);
      expect({ reasonClass, ids: rows.map((r) => r.id) }).toEqual({ reasonClass, ids: want });
    }
    const asMap = (rollup: Awaited<ReturnType<typeof failedRollup>>, withReplayable: boolean) =>
      new Map(
        rollup.map((c) => [
          `${c.state}:${c.reasonClass}`,
          withReplayable ? { count: c.count, replayable: c.replayable } : { count: c.count },
        ]),
      );
    const withoutReplayable = new Map([...cells].map(([key, c]) => [key, { count: c.count }]));
    expect(asMap(await failedRollup(pool, scope), false)).toEqual(withoutReplayable);
    expect((await failedRollup(pool, scope)).every((c) => c.replayable === null)).toBe(true);
    expect(asMap(await failedRollup(pool, scope, { replayable: true }), true)).toEqual(cells);
    // Split into id ranges (as for large rollups), every row is still counted exactly once.
    const rollupStatements: string[] = [];
    const cutStatements: string[] = [];
    const counting = {
      query: (text: string, values?: unknown[]) => {
        if (/GROUP BY 1, 2/.test(text)) rollupStatements.push(text);
        if (/percentile_disc/.test(text)) cutStatements.push(text);
        return pool.query(text, values);
      },
    } as typeof pool;
    expect(asMap(await failedRollup(counting, scope, { replayable: true, minRowsToSplit: 1 }), true)).toEqual(
      cells,
    );
    expect(rollupStatements).toHaveLength(2);
    // The cut is measured once and reused (it only balances the ranges).
    expect(asMap(await failedRollup(counting, scope, { minRowsToSplit: 1 }), false)).toEqual(
      withoutReplayable,
    );
    expect({ rollups: rollupStatements.length, cuts: cutStatements.length }).toEqual({ rollups: 4, cuts: 1 });
    // A job failing after the cut was measured (a higher id) is still counted.
    await insertJob(seedPool, prefix, {
      state: "discarded",
      queue: "parity",
      args: upsertArgs(POST, live),
      errors: [],
    });
    const after = await failedRollup(counting, scope, { minRowsToSplit: 1 });
    expect(cutStatements).toHaveLength(1);
    expect(after.reduce((sum, c) => sum + c.count, 0)).toBe(expected.size + 1);
  });

  it("counts the pending states in the rollup's own pass, exactly, split into id ranges or not", async () => {
    const { pool: seedPool, prefix } = d.oban;
    const pool = operatorContext(d.operator).db;
    const scope = { prefix, queue: "pending_pass", schema: `Elixir.${POST}` };
    const other = { ...scope, schema: "Elixir.MyApp.Other" };
    const states = [
      "available",
      "scheduled",
      "executing",
      "suspended",
      "retryable",
      "discarded",
      "cancelled",
    ];
    const want: Record<string, number> = {};
    for (const [i, state] of [...states, ...states, "available", "completed"].entries()) {
      const errors =
        state === "available" || state === "completed" ? [] : [obanError(`** (RuntimeError) ${i}`)];
      await insertJob(seedPool, prefix, { state, queue: scope.queue, args: upsertArgs(POST, live), errors });
      // Another schema in the same queue is not counted.
      await insertJob(seedPool, prefix, {
        state,
        queue: scope.queue,
        args: { schema: other.schema },
        errors,
      });
      if (QUEUE_PENDING_STATES.includes(state as never)) want[state] = (want[state] ?? 0) + 1;
    }
    expect(await countByState(pool, scope, QUEUE_PENDING_STATES)).toEqual(want);
    const failedOnly = await failedRollup(pool, scope);
    const byKey = (cells: typeof failedOnly) => new Map(cells.map((c) => [`${c.state}:${c.reasonClass}`, c]));
    for (const minRowsToSplit of [undefined, 1]) {
      for (const replayable of [false, true]) {
        const both = await scopeRollup(pool, scope, {
          replayable,
          minRowsToSplit,
          pendingStates: QUEUE_PENDING_STATES,
        });
        expect(both.pending).toEqual(want);
        // The failed cells are those of the rollup alone: pending rows get no class.
        const alone = await failedRollup(pool, scope, { replayable, minRowsToSplit });
        expect(byKey(both.failed)).toEqual(byKey(alone));
      }
    }
    // Without pending states asked for, nothing else is counted.
    expect((await scopeRollup(pool, scope)).pending).toEqual({});
  });

  it("failed work and reconcile send no second count of the pending states beside the rollup", async () => {
    const db = operatorContext(d.operator).db;
    const sent: string[] = [];
    const query = db.query.bind(db);
    db.query = ((text: string, values?: unknown[]) => {
      sent.push(text);
      return query(text, values);
    }) as typeof db.query;
    try {
      const failed = await d.operator.failedSyncWork("posts");
      const reconcile = await d.operator.reconcileSync("posts");
      const status = await d.operator.syncStatusSettled("posts");
      // Status reads the pending states on its own; failed work and reconcile from the rollup's pass.
      expect(sent.filter((t) => /GROUP BY j\.state/.test(t))).toHaveLength(1);
      expect(failed.tally?.pending).toEqual(status.tally.pending);
      expect(reconcile.status.queue.pending.total).toBe(status.queue?.pending.total);
      expect(reconcile.tally.pending).toEqual(status.tally.pending);
    } finally {
      db.query = query;
    }
  });

  it("failed work's tally reads only what it counts: no status listings, no second count of failed tasks", async () => {
    const db = operatorContext(d.operator).db;
    const sql: string[] = [];
    const urls: URL[] = [];
    const query = db.query.bind(db);
    const fetch = globalThis.fetch;
    db.query = ((text: string, values?: unknown[]) => {
      sql.push(text);
      return query(text, values);
    }) as typeof db.query;
    globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
      urls.push(new URL(input instanceof Request ? input.url : input));
      return fetch(input, init);
    }) as typeof fetch;
    let failed: Awaited<ReturnType<typeof d.operator.failedSyncWork>>;
    try {
      failed = await d.operator.failedSyncWork("posts");
    } finally {
      db.query = query;
      globalThis.fetch = fetch;
    }
    const tasks = urls.filter((u) => u.pathname === "/tasks").map((u) => u.searchParams.get("statuses"));
    // The failed tasks are listed once (their total is the tally's count); pending tasks counted.
    expect(tasks.sort()).toEqual(["enqueued,processing", "failed"]);
    expect(sql.filter((t) => /ORDER BY completed_at DESC/.test(t))).toEqual([]);
    // The same figures as status's own reads.
    expect(failed.tally).toEqual((await d.operator.syncStatusSettled("posts")).tally);
  });

  it("encodes --json with upstream's keys and redacts secrets", async () => {
    const doc = failedJson(await d.operator.failedSyncWork("posts"));
    expect(Object.keys(doc)).toEqual(["schema", "entries", "counts", "next_cursor"]);
    expect(Object.keys(doc.entries[0] ?? {}).slice(0, 6)).toEqual([
      "id",
      "reason_class",
      "source",
      "state",
      "operation",
      "retryable",
    ]);
    expect(doc.counts).toEqual({
      version: 1,
      total: 7,
      by_class: { transport: 1, validation: 2, backend_rejected: 1, queue_exhausted: 1, unknown: 2 },
    });
    expect(JSON.stringify(doc)).not.toContain("sk-live-123");
  });

  it("says when Oban next retries the same way whether the rollup or a read of its own tells it", async () => {
    const soon = new Date(Date.now() + 60_000);
    const later = new Date(Date.now() + 3_600_000);
    for (const at of [later, soon]) {
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: "retryable",
        queue: QUEUE,
        args: upsertArgs(POST, "blog_post", [7001]),
        errors: [obanError("** (Req.TransportError) timeout")],
        scheduledAt: at,
      });
    }
    const viaRollup = (await d.operator.failedSyncWork("posts", { limit: 1 })).tally;
    const viaOwnRead = (await d.operator.syncStatusSettled("posts")).tally;
    // Postgres keeps microseconds; both paths read the same timestamp column.
    expect(viaRollup?.retrying.nextAt?.getTime()).toBe(viaOwnRead.retrying.nextAt?.getTime());
    // Earlier tests of this file left retryable rows too: the next retry is the earliest of all.
    expect(viaRollup?.retrying.nextAt).toBeInstanceOf(Date);
    expect(viaRollup?.retrying.nextAt?.getTime()).toBeLessThanOrEqual(soon.getTime());
  });
});
