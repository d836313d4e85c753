// Alert subscriptions over real Postgres: the YAML entries and the stored ones merged as the engine
// reads them, the tables missing before `migrate` (reads: YAML only; writes: migrations_pending),
// a repeated watch updating the one row, two watches at once leaving one row, and every attempt in
// the audit log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";

const ONCALL = "C0ONCALL01";
const SEARCH = "C0SEARCH02";
const ALICE = { id: "U0ALICE001", context: { channel: ONCALL, via: "slack" } };
const BOB = { id: "U0BOB00002", context: { channel: ONCALL, via: "slack" } };
const PRODUCT = "MyApp.Catalog.Product";

describe("alert subscriptions (YAML and /scrypath watch) in Postgres", () => {
  let d: TestDeployment;
  const operators: Operator[] = [];

  /** An operator over the deployment with `alerts:` set, on its own pool (a replica). */
  const withAlerts = (alerts: Record<string, unknown>): Operator => {
    const config = parseConfig({ ...d.raw, alerts }, {});
    const operator = createOperator({
      config,
      db: createPool(config.database.url, { max: 4 }),
      meili: createMeiliClient(config.meilisearch),
    });
    operators.push(operator);
    return operator;
  };
  const yaml = {
    subscriptions: [
      { channel: ONCALL, schemas: ["posts"], on: ["failures"], minFailures: 3, mention: "S0OPS00001" },
      { channel: SEARCH },
    ],
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema(), { module: PRODUCT, alias: "products" }], { migrate: false });
  });
  afterAll(async () => {
    for (const o of operators) await o.close();
    await d?.close();
  });

  const auditRows = async () => {
    const { rows } = await d.oban.pool.query(
      `SELECT actor, action, schema_module, outcome, reason, target, details, context
       FROM "${d.config.state.schema}".audit_log WHERE action LIKE 'scrypath.alerts.%' ORDER BY id`,
    );
    return rows;
  };

  it("reads the YAML entries only, and refuses writes, before the tables are migrated", async () => {
    const o = withAlerts(yaml);
    const effective = await o.alertSubscriptions.effective();
    expect(effective).toEqual([
      expect.objectContaining({
        key: "config:0",
        source: "config",
        channel: ONCALL,
        schemas: [POST],
        on: ["failures"],
        minFailures: 3,
        mention: "S0OPS00001",
        createdBy: null,
      }),
      expect.objectContaining({ key: "config:1", source: "config", channel: SEARCH, schemas: null }),
    ]);
    expect(await o.alertSubscriptions.list(SEARCH)).toHaveLength(1);
    const request = {
      channel: ONCALL,
      schema: "posts",
      conditions: ["drift" as const],
      minFailures: 1,
      mention: null,
    };
    await expect(o.alertSubscriptions.watch(request, ALICE)).rejects.toMatchObject({
      reason: "migrations_pending",
    });
    await expect(
      o.alertSubscriptions.unwatch({ channel: ONCALL, schema: "posts" }, ALICE),
    ).rejects.toMatchObject({
      reason: "migrations_pending",
    });
    await d.operator.migrate();
  });

  it("stores a watch, merges it after the YAML entries, and audits it", async () => {
    const o = withAlerts(yaml);
    const result = await o.alertSubscriptions.watch(
      {
        channel: ONCALL,
        schema: "products",
        conditions: ["failures", "drift"],
        minFailures: 2,
        mention: null,
      },
      ALICE,
    );
    expect(result).toMatchObject({
      outcome: "watched",
      subscription: {
        source: "watch",
        channel: ONCALL,
        schemas: [PRODUCT],
        on: ["failures", "drift"],
        minFailures: 2,
        createdBy: ALICE.id,
      },
    });
    expect(result.subscription.key).toMatch(/^watch:\d+$/);
    const all = await o.alertSubscriptions.watch(
      { channel: SEARCH, schema: "all", conditions: ["unreadable"], minFailures: 1, mention: "S0OPS00001" },
      BOB,
    );
    expect(all.subscription.schemas).toBeNull();

    const effective = await o.alertSubscriptions.effective();
    expect(effective.map((s) => s.key)).toEqual([
      "config:0",
      "config:1",
      result.subscription.key,
      all.subscription.key,
    ]);
    expect((await o.alertSubscriptions.list(ONCALL)).map((s) => [s.source, s.schemas])).toEqual([
      ["config", [POST]],
      ["watch", [PRODUCT]],
    ]);
    expect(await o.alertSubscriptions.list()).toHaveLength(4);

    const audit = await auditRows();
    expect(audit).toEqual([
      expect.objectContaining({
        actor: ALICE.id,
        action: "scrypath.alerts.watch",
        schema_module: PRODUCT,
        outcome: "watched",
        target: {
          channel: ONCALL,
          schema: PRODUCT,
          conditions: ["failures", "drift"],
          min_failures: 2,
          mention: null,
        },
        context: ALICE.context,
      }),
      expect.objectContaining({
        actor: BOB.id,
        schema_module: null,
        outcome: "watched",
        target: expect.objectContaining({ channel: SEARCH, schema: "all", mention: "S0OPS00001" }),
      }),
    ]);
  });

  it("updates the channel's one subscription on a second watch and says what changed", async () => {
    const o = withAlerts(yaml);
    const request = {
      channel: ONCALL,
      schema: PRODUCT,
      conditions: ["failures" as const, "drift" as const],
      minFailures: 2,
      mention: null,
    };
    expect((await o.alertSubscriptions.watch(request, BOB)).outcome).toBe("unchanged");
    const changed = await o.alertSubscriptions.watch(
      { ...request, conditions: ["drift", "unreadable"], minFailures: 5, mention: "S0OPS00001" },
      BOB,
    );
    expect(changed).toMatchObject({
      outcome: "updated",
      subscription: { on: ["drift", "unreadable"], minFailures: 5, createdBy: ALICE.id, updatedBy: BOB.id },
      changes: [
        { field: "conditions", from: ["failures", "drift"], to: ["drift", "unreadable"] },
        { field: "minFailures", from: 2, to: 5 },
        { field: "mention", from: null, to: "S0OPS00001" },
      ],
    });
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.config.state.schema}".alert_subscriptions WHERE channel = $1`,
      [ONCALL],
    );
    expect(rows[0].n).toBe(1);
    expect((await auditRows()).slice(-2).map((r) => r.outcome)).toEqual(["unchanged", "updated"]);
  });

  it("leaves one row when two replicas watch the same channel and schema at once", async () => {
    const replicas = [withAlerts({}), withAlerts({}), withAlerts({})];
    const results = await Promise.all(
      replicas.flatMap((o, i) =>
        [1, 2, 3].map((n) =>
          o.alertSubscriptions.watch(
            {
              channel: "C0RACE0001",
              schema: "posts",
              conditions: ["failures"],
              minFailures: i * 3 + n,
              mention: null,
            },
            ALICE,
          ),
        ),
      ),
    );
    expect(results.filter((r) => r.outcome === "watched")).toHaveLength(1);
    expect(new Set(results.map((r) => r.subscription.key)).size).toBe(1);
    const listed = await d.operator.alertSubscriptions.list("C0RACE0001");
    expect(listed).toHaveLength(1);
  });

  it("refuses, and audits, an unknown schema, stuck without stuckAfter, and unwatching a YAML entry", async () => {
    const o = withAlerts(yaml);
    const before = (await auditRows()).length;
    await expect(
      o.alertSubscriptions.watch(
        { channel: ONCALL, schema: "postz", conditions: ["failures"], minFailures: 1, mention: null },
        ALICE,
      ),
    ).rejects.toMatchObject({ code: "unknown_schema" });
    await expect(
      o.alertSubscriptions.watch(
        { channel: ONCALL, schema: "posts", conditions: ["stuck"], minFailures: 1, mention: null },
        ALICE,
      ),
    ).rejects.toMatchObject({ reason: "stuck_not_configured" });
    await expect(
      o.alertSubscriptions.unwatch({ channel: ONCALL, schema: "posts" }, ALICE),
    ).rejects.toMatchObject({
      reason: "kept_in_configuration",
      message: expect.stringContaining("change it in code review"),
    });
    await expect(
      o.alertSubscriptions.unwatch({ channel: "C0NONE0001", schema: "posts" }, ALICE),
    ).rejects.toMatchObject({
      reason: "not_watched",
    });
    const refused = (await auditRows()).slice(before);
    expect(refused.map((r) => [r.action, r.outcome, r.reason])).toEqual([
      ["scrypath.alerts.watch", "refused", "unknown_schema"],
      ["scrypath.alerts.watch", "refused", "stuck_not_configured"],
      ["scrypath.alerts.unwatch", "refused", "kept_in_configuration"],
      ["scrypath.alerts.unwatch", "refused", "not_watched"],
    ]);
    expect(refused[0].target).toMatchObject({ channel: ONCALL, schema: "postz" });

    // With stuckAfter set, stuck is accepted; the engine stops seeing it once stuckAfter is removed.
    const stuck = withAlerts({ stuckAfter: "15m" });
    await stuck.alertSubscriptions.watch(
      {
        channel: "C0STUCK001",
        schema: "posts",
        conditions: ["stuck", "failures"],
        minFailures: 1,
        mention: null,
      },
      ALICE,
    );
    const seen = (o: Operator) =>
      o.alertSubscriptions.effective().then((all) => all.find((s) => s.channel === "C0STUCK001")?.on);
    expect(await seen(stuck)).toEqual(["failures", "stuck"]);
    expect(await seen(withAlerts({}))).toEqual(["failures"]);
  });

  it("unwatches a stored subscription, saying when a YAML entry still covers the channel", async () => {
    const o = withAlerts(yaml);
    await o.alertSubscriptions.watch(
      { channel: ONCALL, schema: "posts", conditions: ["drift"], minFailures: 1, mention: null },
      ALICE,
    );
    const removed = await o.alertSubscriptions.unwatch({ channel: ONCALL, schema: "posts" }, BOB);
    expect(removed).toMatchObject({
      outcome: "unwatched",
      removed: { schemas: [POST], on: ["drift"] },
      stillConfigured: [expect.objectContaining({ key: "config:0" })],
    });
    expect((await o.alertSubscriptions.list(ONCALL)).map((s) => s.source)).toEqual(["config", "watch"]);
    const [last] = (await auditRows()).slice(-1);
    expect(last).toMatchObject({ actor: BOB.id, action: "scrypath.alerts.unwatch", outcome: "unwatched" });
  });
  it("skips a subscription to a schema no longer configured, and still removes it by its module name", async () => {
    const o = withAlerts({});
    await o.alertSubscriptions.watch(
      { channel: "C0GONE0001", schema: "products", conditions: ["drift"], minFailures: 1, mention: null },
      ALICE,
    );
    // The same deployment after Product left the configuration.
    const config = parseConfig({ ...d.raw, schemas: [postsSchema()] }, {});
    const later = createOperator({
      config,
      db: createPool(config.database.url, { max: 2 }),
      meili: createMeiliClient(config.meilisearch),
    });
    operators.push(later);
    expect((await later.alertSubscriptions.effective()).some((s) => s.channel === "C0GONE0001")).toBe(false);
    expect(await later.alertSubscriptions.list("C0GONE0001")).toHaveLength(1);
    await expect(
      later.alertSubscriptions.unwatch({ channel: "C0GONE0001", schema: "products" }, ALICE),
    ).rejects.toMatchObject({ code: "unknown_schema" });
    const removed = await later.alertSubscriptions.unwatch({ channel: "C0GONE0001", schema: PRODUCT }, ALICE);
    expect(removed.removed.schemas).toEqual([PRODUCT]);
    expect(await later.alertSubscriptions.list("C0GONE0001")).toEqual([]);
  });
});
