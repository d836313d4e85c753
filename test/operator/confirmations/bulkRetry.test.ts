import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../../src/backends/meilisearch.ts";
import { createPool } from "../../../src/backends/postgres.ts";
import { parseConfig } from "../../../src/config.ts";
import { mutationAccess } from "../../../src/core/access.ts";
import { createLogger } from "../../../src/log.ts";
import type {
  Card,
  CardPort,
  ConfirmationWorkflow,
  ReplayGroupStarted,
  RequestAnswer,
} from "../../../src/operator/confirmations/index.ts";
import { createOperator, type Operator } from "../../../src/operator/index.ts";
import { advisoryWaiter, holdRetryLock } from "../../support/bulk.ts";
import { insertJob } from "../../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../../support/operator.ts";
import { POST, QUEUE } from "../../support/posts.ts";

const CHANNEL = "C0OPS";
const ALICE = "U0ALICE";
const BOB = "U0BOB";
const VALIDATION = '** (Ecto.CastError) cannot cast "abc" to :integer';

describe("a bulk retry through the confirmation workflow", () => {
  let d: TestDeployment;
  let seq = 0;

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", syncMode: "oban", obanQueue: QUEUE }]);
  });
  afterAll(() => d?.close());

  const surface = (
    operator: Operator = d.operator,
  ): { workflow: ConfirmationWorkflow; shown: Card[]; groups: ReplayGroupStarted[] } => {
    const shown: Card[] = [];
    const groups: ReplayGroupStarted[] = [];
    const cards: CardPort = {
      async post() {
        seq += 1;
        return { ok: true, ts: `1700000000.${String(seq).padStart(6, "0")}` };
      },
      async show(card) {
        shown.push(card);
      },
      async permalink() {
        return null;
      },
    };
    const workflow = operator.confirmationWorkflow({
      cards,
      access: {
        decide: async (userId, o = {}) =>
          mutationAccess({
            userId,
            operators: { users: [ALICE, BOB], usergroups: [] },
            groupMembers: null,
            requestedBy: o.requestedBy ?? null,
            twoPersonRule: true,
          }),
      },
      followReplay: () => {},
      followReplayGroup: (group) => groups.push(group),
      count: () => {},
      logger: createLogger({ write: () => {} }),
      ttlSeconds: 600,
    });
    return { workflow, shown, groups };
  };

  /** Another operator over the deployment whose bulk runs go in batches of one, closed by the caller. */
  const batchesOfOne = (): Operator => {
    const config = parseConfig(
      { ...d.raw, access: { ...(d.raw.access as object), bulkRetryBatchSize: 1 } },
      {},
    );
    return createOperator({
      config,
      db: createPool(config.database.url, { max: 4 }),
      meili: createMeiliClient(config.meilisearch),
    });
  };

  const failed = async (n: number, error = "** (Req.TransportError) timeout") => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(
        await insertJob(d.oban.pool, d.oban.prefix, {
          state: "discarded",
          queue: QUEUE,
          args: upsertArgs(POST, `${d.indexPrefix}_post`, [i + 1]),
          errors: [obanError(error)],
        }),
      );
    }
    return ids;
  };
  const origin = { userId: ALICE, teamId: "T0", channelId: CHANNEL, threadTs: null };
  const posted = (answer: RequestAnswer) => {
    if (answer.kind !== "posted") throw new Error(`no card was posted: ${answer.kind}`);
    return answer.confirmation;
  };
  const stored = async (id: string) => {
    const { rows } = await d.oban.pool.query(
      `SELECT request FROM "${d.config.state.schema}".confirmations WHERE id = $1`,
      [id],
    );
    return rows[0].request.request;
  };
  const replayOf = async (ids: number[]) => {
    const { rows } = await d.oban.pool.query(
      `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of FROM "${d.oban.prefix}".oban_jobs
       WHERE meta ? 'scrypath_bot' AND (meta->'scrypath_bot'->>'replay_of')::int = ANY($1::int[])`,
      [ids],
    );
    return rows.map((r) => r.of).sort((a: number, b: number) => a - b);
  };

  it("stores the resolved ids (not the surface's), replays exactly those, one pending card per class", async () => {
    const s = surface();
    const ids = await failed(3);
    const [other] = await failed(1, VALIDATION);
    const asked = posted(
      await s.workflow.request(
        { kind: "bulk_retry", schema: "posts", reasonClass: "transport", ids: [other, 999_999] },
        origin,
      ),
    );
    expect(await stored(asked.id)).toMatchObject({ kind: "bulk_retry", state: "terminal", ids });

    // Refused at request time (nothing of the class): the surface's ids are not even counted.
    expect(
      await s.workflow.request(
        { kind: "bulk_retry", schema: "posts", reasonClass: "backend_rejected", ids: [1, 2, 3] },
        origin,
      ),
    ).toMatchObject({ kind: "refused", error: { reason: "nothing_to_retry" } });
    const [refused] = await d.operator.auditLog({ limit: 1 });
    expect(refused).toMatchObject({ actor: ALICE, outcome: "refused", reason: "nothing_to_retry" });
    expect(refused?.target).toEqual({
      source: "oban",
      bulk: { reasonClass: "backend_rejected", since: null, state: "terminal", source: "oban" },
    });

    // The same class with another filter is the same target: linked, not a second card.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    expect(
      await s.workflow.request(
        { kind: "bulk_retry", schema: "posts", reasonClass: "transport", since },
        origin,
      ),
    ).toMatchObject({ kind: "already_requested", pending: { id: asked.id } });
    // Another class is another card.
    const validation = posted(
      await s.workflow.request({ kind: "bulk_retry", schema: "posts", reasonClass: "validation" }, origin),
    );
    expect(await stored(validation.id)).toMatchObject({ ids: [other] });

    // A row that starts matching after the request is not in it: the confirm acts on what was shown.
    const [late] = await failed(1);
    expect(
      await s.workflow.decide({
        decision: "confirm",
        value: asked.id,
        userId: BOB,
        teamId: "T0",
        channelId: CHANNEL,
        messageTs: asked.messageTs,
      }),
    ).toMatchObject({ kind: "taken" });
    expect(await replayOf([...ids, late as number])).toEqual(ids);
    const final = s.shown.filter((c) => c.id === asked.id).at(-1);
    expect(final?.state.status).toBe("done");
    const ending = final?.state.ending;
    expect(
      ending?.kind === "executed" && ending.result.kind === "bulk_retry" ? ending.result.result : null,
    ).toMatchObject({
      replayed: ids.map((id) => ({ id })),
      failedBatches: 0,
    });
    // The thread follows exactly the new jobs, as one group under the card.
    const { rows: fresh } = await d.oban.pool.query(
      `SELECT id FROM "${d.oban.prefix}".oban_jobs
       WHERE (meta->'scrypath_bot'->>'replay_of')::int = ANY($1::int[]) ORDER BY id`,
      [ids],
    );
    expect(s.groups).toEqual([
      expect.objectContaining({
        channel: CHANNEL,
        threadTs: asked.messageTs,
        jobIds: fresh.map((r) => Number(r.id)),
        schema: POST,
        confirmationId: asked.id,
      }),
    ]);
  });

  /**
   * Three failed rows of `reasonClass` asked for in bulk, in batches of one, and confirmed while
   * batch two waits on its row's retry lock, held here: `waiting` is that batch's backend. The
   * caller ends the wait (`lock.release()`) and awaits `decided`; `close()` releases everything.
   */
  const confirmedBehindLock = async (reasonClass: "backend_rejected" | "queue_exhausted", error: string) => {
    const operator = batchesOfOne();
    const s = surface(operator);
    const ids = await failed(3, error);
    const asked = posted(
      await s.workflow.request({ kind: "bulk_retry", schema: "posts", reasonClass }, origin),
    );
    const lock = await holdRetryLock(d, ids[1] as number);
    const decided = s.workflow.decide({
      decision: "confirm",
      value: asked.id,
      userId: BOB,
      teamId: "T0",
      channelId: CHANNEL,
      messageTs: asked.messageTs,
    });
    const waiting = await advisoryWaiter(d);
    const close = async () => {
      await lock.release();
      await operator.close();
    };
    return { s, ids, asked, lock, decided, waiting, close };
  };

  /** How the run ended, as its last card shows it, and the audit rows of its confirmation. */
  const endOf = async (s: { shown: Card[] }, id: string) => {
    const final = s.shown.filter((c) => c.id === id).at(-1);
    const ending = final?.state.ending;
    const result =
      ending?.kind === "executed" && ending.result.kind === "bulk_retry" ? ending.result.result : null;
    const audit = (await d.operator.auditLog({ limit: 20 })).filter(
      (r) => (r.context as Record<string, unknown>).confirmation_id === id,
    );
    return { status: final?.state.status, result, audit };
  };

  it("a batch that fails midway (its Postgres backend killed) keeps the batches before it; the card and a failed audit row say how many", async () => {
    // Batches of one, so the run stops after exactly one replay.
    const run = await confirmedBehindLock(
      "backend_rejected",
      "** (Scrypath.Meilisearch.Error) database_size_limit: disk full",
    );
    try {
      const { ids, asked } = run;
      const stored = (
        await d.oban.pool.query(
          `SELECT request->'request'->'ids' AS ids FROM "${d.config.state.schema}".confirmations WHERE id = $1`,
          [asked.id],
        )
      ).rows[0].ids as number[];
      expect(stored).toEqual(ids);

      // Batch two's backend dies while it waits on the held lock.
      await d.oban.pool.query("SELECT pg_terminate_backend($1)", [run.waiting]);
      await run.lock.release();
      expect(await run.decided).toMatchObject({ kind: "taken" });

      // Batch one stays, the rest was not attempted.
      expect(await replayOf(ids)).toEqual([ids[0]]);
      const { status, result, audit } = await endOf(run.s, asked.id);
      expect(status).toBe("failed");
      expect(result).toMatchObject({ replayed: [{ id: ids[0] }], failedBatches: 1, notAttempted: 2 });

      // The audit: one accepted row per replay, and one failed row that says how the run ended.
      expect(audit.filter((r) => r.outcome === "accepted")).toHaveLength(1);
      const ended = audit.filter((r) => r.outcome === "failed");
      expect(ended).toHaveLength(1);
      expect(ended[0]).toMatchObject({
        actor: BOB,
        details: {
          kind: "bulk_retry",
          replayed: 1,
          not_attempted: 2,
          failed_batches: 1,
          nothing_changed: false,
        },
      });
    } finally {
      await run.close();
    }
  });

  it("a shutdown stops a bulk run between batches: the batch running ends whole, the rest is not attempted, and the card and audit say so", async () => {
    // Batch two waits on its row's lock, held elsewhere; the shutdown begins meanwhile.
    const run = await confirmedBehindLock("queue_exhausted", "** (RuntimeError) the worker crashed");
    try {
      const { ids, asked } = run;
      run.s.workflow.windDown();
      await run.lock.release();
      expect(await run.decided).toMatchObject({ kind: "taken" });

      // Batch two, already running, finished whole; batch three never started.
      expect(await replayOf(ids)).toEqual([ids[0], ids[1]]);
      const { status, result, audit } = await endOf(run.s, asked.id);
      expect(status).toBe("failed");
      expect(result).toMatchObject({ failedBatches: 0, notAttempted: 1, error: { code: "shutting_down" } });
      expect(result?.replayed.map((r) => r.id)).toEqual([ids[0], ids[1]]);
      expect(audit.filter((r) => r.outcome === "accepted")).toHaveLength(2);
      expect(audit.filter((r) => r.outcome === "failed")).toEqual([
        expect.objectContaining({
          reason: "shutting_down",
          details: expect.objectContaining({ replayed: 2, not_attempted: 1, nothing_changed: false }),
        }),
      ]);
    } finally {
      await run.close();
    }
  });
});
