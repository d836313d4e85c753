// operator.observeSchema over real Postgres and Meilisearch: the same numbers as /scrypath failed,
// the window and the replay exclusion of "recent", the cheap fingerprint that spares the rollup
// while nothing moves, and honest problems when a backend cannot be read.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import type { SchemaObservation } from "../../src/core/alertTypes.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { recordReplay } from "../../src/state/replayLinks.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

const MINUTE = 60_000;

describe("observeSchema", () => {
  let d: TestDeployment;
  let live: string;
  const now = new Date();
  const ago = (minutes: number) => new Date(now.getTime() - minutes * MINUTE);

  async function fail(state: "discarded" | "cancelled" | "retryable", error: string, at: Date, doc: number) {
    return insertJob(d.oban.pool, d.oban.prefix, {
      state,
      queue: QUEUE,
      args: upsertArgs(POST, live, [doc]),
      errors: [obanError(error, 1, at)],
      attempt: 3,
      maxAttempts: 3,
      attemptedAt: at,
    });
  }

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    // An old terminal failure (outside the 15 min window), two recent ones, one retrying row.
    await fail("discarded", "** (Ecto.CastError) cannot cast", ago(120), 1);
    await fail("discarded", "** (Req.TransportError) timeout connecting to 127.0.0.1:7700", ago(5), 2);
    await fail("cancelled", "** (Req.TransportError) econnrefused", ago(3), 3);
    await fail("retryable", "** (Req.TransportError) closed", ago(1), 4);
  });
  afterAll(() => d.close());

  it("counts as /scrypath failed does, and only unresolved terminal rows of the window as recent", async () => {
    const seen = await d.operator.observeSchema(POST, null, { now });
    const failed = await d.operator.failedSyncWork(POST, { limit: 1 });
    expect(seen.full).toBe(true);
    expect(seen.problems).toEqual([]);
    expect(seen.fingerprint).not.toBeNull();
    const f = seen.failures;
    expect(f).not.toBeNull();
    expect(f?.terminal).toBe(failed.tally?.terminal.total);
    expect(f?.needTriage).toBe(failed.tally?.needsTriage);
    expect(f?.byClass).toEqual(
      Object.fromEntries(Object.entries(failed.counts.byClass).filter(([, n]) => n > 0)),
    );
    expect(f?.terminal).toBe(3);
    expect(f?.recent).toBe(2);
    expect(f?.recentByClass).toEqual({ transport: 2 });
    expect(f?.oldestRecentAt).toBe(ago(5).toISOString());
    expect(f?.newest).toMatchObject({ at: ago(3).toISOString(), reasonClass: "transport", source: "oban" });
    expect(f?.newest?.error).toContain("econnrefused");
    expect(f?.scope).toBe("all");
    expect(seen.drift).toBeNull();
    expect(seen.stuck).toBeNull();
  });

  it("reuses the previous observation while the fingerprint stands, and reads again when it moves", async () => {
    const first = await d.operator.observeSchema(POST, null, { now });
    const later = new Date(now.getTime() + 30_000);
    const same = await d.operator.observeSchema(
      POST,
      { fingerprint: first.fingerprint, observation: first },
      {
        now: later,
      },
    );
    expect(same.full).toBe(false);
    expect(same.checkedAt).toBe(later.toISOString());
    expect(same.failures).toEqual(first.failures);

    const id = await fail("discarded", "** (Req.TransportError) nxdomain", ago(0.5), 5);
    const moved = await d.operator.observeSchema(
      POST,
      { fingerprint: same.fingerprint, observation: same },
      {
        now: later,
      },
    );
    expect(moved.full).toBe(true);
    expect(moved.fingerprint).not.toBe(same.fingerprint);
    expect(moved.failures?.recent).toBe(3);
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`, [id]);
  });

  it("reads again when the oldest recent failure leaves the window, though nothing moved", async () => {
    const first = await d.operator.observeSchema(POST, null, { now });
    // 11 min later the failure of 5 min ago is 16 min old: outside the 15 min window.
    const later = new Date(now.getTime() + 11 * MINUTE);
    const next = await d.operator.observeSchema(
      POST,
      { fingerprint: first.fingerprint, observation: first },
      {
        now: later,
      },
    );
    expect(next.fingerprint).toBe(first.fingerprint);
    expect(next.full).toBe(true);
    expect(next.failures?.recent).toBe(1);
  });

  it("leaves a row out of recent once a replay resolved it, and the replay moves the fingerprint", async () => {
    const failedId = await fail("discarded", "** (Req.TransportError) timeout", ago(2), 6);
    const before = await d.operator.observeSchema(POST, null, { now });
    expect(before.failures?.recent).toBe(3);
    const replay = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "completed",
      queue: QUEUE,
      args: upsertArgs(POST, live, [6]),
    });
    await recordReplay(d.oban.pool, d.config.state.schema, {
      obanPrefix: d.oban.prefix,
      failedJobId: failedId,
      replayJobId: replay,
      schema: POST,
      requestedBy: "U0OPERATOR",
    });
    const after = await d.operator.observeSchema(
      POST,
      { fingerprint: before.fingerprint, observation: before },
      {
        now,
      },
    );
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.full).toBe(true);
    expect(after.failures?.recent).toBe(2);
    expect(after.failures?.replays).toEqual({ total: 1, resolved: 1, verified: 0 });
    const failed = await d.operator.failedSyncWork(POST, { limit: 1 });
    expect(after.failures?.needTriage).toBe(failed.tally?.needsTriage);
  });

  it("counts Meilisearch's failed document tasks of the window as recent backend failures", async () => {
    await d.meili.createIndex(live, { primaryKey: "id" }).then((t) => d.meili.tasks.waitForTask(t.taskUid));
    const before = await d.operator.observeSchema(POST, null, { now: new Date() });
    await failDocumentTask(d.meili, live, "invalid_document_id");
    const after = await d.operator.observeSchema(
      POST,
      { fingerprint: before.fingerprint, observation: before },
      {
        now: new Date(),
      },
    );
    expect(after.full).toBe(true);
    expect(after.failures?.recent).toBe((before.failures?.recent ?? 0) + 1);
    expect(after.failures?.newest?.source).toBe("meilisearch");
  });
});

describe("observeSchema with alerts.stuckAfter", () => {
  let d: TestDeployment;
  let operator: Operator;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    const config = parseConfig({ ...d.raw, alerts: { stuckAfter: "10m" } }, {});
    operator = createOperator({
      config,
      db: createPool(config.database.url, { max: 2 }),
      meili: createMeiliClient(config.meilisearch),
    });
  });
  afterAll(async () => {
    await operator.close();
    await d.close();
  });

  it("reports the queue's pending work due to run and the oldest of it, at every check", async () => {
    const now = new Date();
    const empty = await operator.observeSchema(POST, null, { now });
    expect(empty.stuck).toEqual({ pending: 0, oldestPendingAt: null });
    const waiting = new Date(now.getTime() - 20 * MINUTE);
    for (const at of [waiting, new Date(now.getTime() - MINUTE), new Date(now.getTime() + MINUTE)]) {
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: "available",
        queue: QUEUE,
        args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
        scheduledAt: at,
      });
    }
    // Pending rows do not move the failure fingerprint: the backlog is read at every check anyway.
    const seen = await operator.observeSchema(
      POST,
      { fingerprint: empty.fingerprint, observation: empty },
      { now },
    );
    expect(seen.full).toBe(false);
    expect(seen.stuck).toEqual({ pending: 2, oldestPendingAt: waiting.toISOString() });
    // Without stuckAfter, nothing is read for it.
    expect((await d.operator.observeSchema(POST, null, { now })).stuck).toBeNull();
  });
});

describe("observeSchema when a backend cannot be read", () => {
  let d: TestDeployment;
  let proxy: TcpProxy;
  let operator: Operator;

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
      errors: [obanError("** (Req.TransportError) timeout", 1, new Date())],
      attemptedAt: new Date(),
    });
    const live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).then((t) => d.meili.tasks.waitForTask(t.taskUid));
    const url = new URL(d.config.meilisearch.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    const config = parseConfig(
      {
        ...d.raw,
        meilisearch: {
          ...(d.raw.meilisearch as object),
          url: proxy.rewrite(d.config.meilisearch.url),
          timeoutMs: 1_000,
        },
      },
      {},
    );
    operator = createOperator({
      config,
      db: createPool(config.database.url, { max: 4 }),
      meili: createMeiliClient(config.meilisearch),
      readTimeoutMs: 1_500,
    });
  });
  afterEach(() => proxy.setMode("pass"));
  afterAll(async () => {
    await operator.close();
    await proxy.close();
    await d.close();
  });

  it("says Meilisearch could not be read, and still counts the queue plane", async () => {
    proxy.setMode("blackhole");
    const seen: SchemaObservation = await operator.observeSchema(POST, null);
    expect(seen.fingerprint).toBeNull();
    expect(seen.problems.map((p) => p.backend)).toEqual(["meilisearch"]);
    expect(seen.problems[0]?.message).toMatch(/Meilisearch/);
    expect(seen.failures).toMatchObject({ scope: "queue", terminal: 1, recent: 1 });
    // The contract could not be checked: unknown, not "no drift".
    expect(seen.drift).toBeNull();
  });

  it("asks Meilisearch nothing more once the fingerprint found it unanswering: one read timeout per check", async () => {
    proxy.setMode("blackhole");
    // Every request line sent to Meilisearch through the proxy (held, never answered).
    const requests: string[] = [];
    const stop = proxy.watch((chunk) => {
      const line = /^(GET|POST|PUT|PATCH|DELETE) (\S+)/.exec(chunk.toString("latin1"));
      if (line) requests.push(`${line[1]} ${line[2]?.split("?")[0]}`);
    });
    try {
      const seen = await operator.observeSchema(POST, null);
      expect(seen.problems.map((p) => p.backend)).toEqual(["meilisearch"]);
      expect(seen.failures).toMatchObject({ scope: "queue", terminal: 1 });
      expect(seen.drift).toBeNull();
      // The fingerprint's two task counts (document failures, settings tasks), and nothing else:
      // no failed-work read, no contract read, no recent-failures read.
      expect(requests).toEqual(["GET /tasks", "GET /tasks"]);
    } finally {
      stop();
    }
  });

  it("counts only the queue plane when Meilisearch stops answering between the reads, never fewer failures", async () => {
    // The recent-failures read of Meilisearch (the only one with afterFinishedAt) goes unanswered.
    const stop = proxy.watch((chunk) => {
      if (chunk.toString("latin1").includes("afterFinishedAt")) proxy.setMode("blackhole");
    });
    try {
      const seen = await operator.observeSchema(POST, null);
      expect(seen.problems.map((p) => p.backend)).toEqual(["meilisearch"]);
      expect(seen.failures).toMatchObject({ scope: "queue", recent: 1 });
    } finally {
      stop();
    }
  });

  it("never reuses an observation that had a problem", async () => {
    proxy.setMode("blackhole");
    const broken = await operator.observeSchema(POST, null);
    proxy.setMode("pass");
    const healed = await operator.observeSchema(POST, {
      fingerprint: broken.fingerprint,
      observation: broken,
    });
    expect(healed.full).toBe(true);
    expect(healed.problems).toEqual([]);
    expect(healed.failures?.scope).toBe("all");
    expect(healed.drift).not.toBeNull();
  });

  it("says Postgres could not be read and leaves the failures unknown, not zero", async () => {
    const url = new URL(d.config.database.url);
    const pgProxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    const config = parseConfig(
      { ...d.raw, database: { ...(d.raw.database as object), url: pgProxy.rewrite(d.config.database.url) } },
      {},
    );
    const cut = createOperator({
      config,
      db: createPool(config.database.url, { max: 2, connectTimeoutMs: 1_000, queryTimeoutMs: 2_000 }),
      meili: createMeiliClient(config.meilisearch),
      readTimeoutMs: 1_500,
    });
    try {
      pgProxy.setMode("blackhole");
      const seen = await cut.observeSchema(POST, null);
      expect(seen.problems.map((p) => p.backend)).toEqual(["postgres"]);
      expect(seen.failures).toBeNull();
      expect(seen.fingerprint).toBeNull();
    } finally {
      pgProxy.setMode("pass");
      await cut.close().catch(() => {});
      await pgProxy.close();
    }
  });
});
