// The alert card's Acknowledge button and Snooze select through signed requests into the real
// Bolt app (real Postgres and Meilisearch, the fake Slack): acknowledged first, recorded with who
// and when, audited, the card re-rendered at once; Snooze for operators only (deny by default),
// a refusal is one ephemeral sentence; nothing is recorded outside the allowed channels or on a
// resolved alert.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { blockActionsPayload, SIGNING_SECRET, send, signed } from "../../devkit/slackRequests.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { ALERT_ACTIONS } from "../../views/types.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { slackEnv } from "../support/slack.ts";
import { ALICE, CHANNEL, DAVE, OPS_GROUP, operatorsConfig } from "./confirmHarness.ts";

const ITEM = "MyApp.Ctl.Item";
const WATCHED = "MyApp.Ctl.Order";
const BOT_TOKEN = "xoxb-1111-2222-alerttoken";

describe("alert card controls", { timeout: 60_000 }, () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let config: Config;
  let operator: Operator;
  let bot: SlackApp;
  let base: string;
  let cardTs: string;
  let alertId: number;

  beforeAll(async () => {
    d = await testDeployment([
      { module: ITEM, syncMode: "oban", obanQueue: "q_ctl" },
      { module: WATCHED, syncMode: "oban", obanQueue: "q_watched" },
    ]);
    config = parseConfig(
      {
        ...d.raw,
        access: operatorsConfig(),
        alerts: { subscriptions: [{ channel: CHANNEL, schemas: [ITEM], on: ["failures"] }] },
      },
      {},
    );
    operator = createOperator({ ...operatorContext(d.operator), config });
    fake = await FakeSlack.start();
    fake.usergroups.set(OPS_GROUP, []);
    bot = createSlackApp({
      config,
      operator,
      env: slackEnv(fake, BOT_TOKEN),
      logger: createLogger({ write: () => {}, secrets: [BOT_TOKEN, SIGNING_SECRET] }),
      alertSchedules: false,
    });
    const { port } = await bot.start();
    base = `http://127.0.0.1:${port}`;
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: "q_ctl",
      args: upsertArgs(ITEM, `${d.indexPrefix}_item`, [1]),
      errors: [obanError("** (Req.TransportError) timeout", 3, new Date())],
      attempt: 3,
      maxAttempts: 3,
      attemptedAt: new Date(),
      discardedAt: new Date(),
    });
    const tick = await bot.alerts.tick();
    expect(tick.opened).toHaveLength(1);
    alertId = tick.opened[0] as number;
    cardTs = fake.listMessages(CHANNEL)[0]?.ts as string;
    expect(cardTs).toBeTruthy();
    // Counted by outcome on /metrics.
    const metrics = await bot.metrics.text();
    expect(metrics).toContain('scrypath_bot_alerts_total{outcome="opened"} 1');
    expect(metrics).toContain('scrypath_bot_alerts_total{outcome="posted"} 1');
  });
  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await d?.close();
  });

  /** A click on the card (a button, or a select's option), signed; resolves with its response_url id. */
  async function click(actionId: string, value: string, userId = ALICE, channelId = CHANNEL) {
    const { id, url } = fake.responseUrl();
    const payload = blockActionsPayload({
      actionId,
      value,
      responseUrl: url,
      userId,
      channelId,
      ephemeral: false,
      messageTs: cardTs,
    });
    if (actionId === ALERT_ACTIONS.snooze) {
      payload.actions = [
        {
          type: "static_select",
          action_id: actionId,
          block_id: "scrypath-alert",
          selected_option: { text: { type: "plain_text", text: value }, value },
          placeholder: { type: "plain_text", text: "Snooze" },
          action_ts: "1700000001.000300",
        },
      ];
    }
    const answer = await send(
      `${base}/slack/events`,
      signed(new URLSearchParams({ payload: JSON.stringify(payload) }).toString()),
    );
    // Acknowledged at once, with nothing in the body (the work continues after it).
    expect(answer).toEqual({ status: 200, body: "" });
    return id;
  }

  const row = async () =>
    (await d.oban.pool.query(`SELECT * FROM "${config.state.schema}".alerts WHERE id = $1`, [alertId]))
      .rows[0];
  const ephemeral = async (id: string) => {
    const [post] = await fake.waitForPosts(id, 1);
    const body = post?.body as Record<string, unknown>;
    expect(body.response_type).toBe("ephemeral");
    expectValidMessage({ text: body.text, blocks: body.blocks } as never);
    return JSON.stringify(body);
  };

  it("Acknowledge records who is looking, audits it and re-renders the card at once", async () => {
    await click(ALERT_ACTIONS.acknowledge, String(alertId), DAVE);
    await fake.waitFor(
      () => fake.updatesOf(cardTs).some((u) => JSON.stringify(u).includes(DAVE)),
      () => `the card was not re-rendered with ${DAVE}`,
    );
    expect(await row()).toMatchObject({ acked_by: DAVE });
    const audit = await operator.auditLog({ limit: 5 });
    expect(audit[0]).toMatchObject({
      actor: DAVE,
      action: "scrypath.alerts.acknowledge",
      outcome: "recorded",
    });
    for (const u of fake.updatesOf(cardTs)) expectValidMessage({ text: u.text, blocks: u.blocks } as never);
  });

  it("Snooze is for operators: anyone else gets one ephemeral sentence and nothing is recorded", async () => {
    const updates = fake.updatesOf(cardTs).length;
    const id = await click(ALERT_ACTIONS.snooze, `${alertId}:1h`, DAVE);
    expect(await ephemeral(id)).toMatch(/operator/i);
    expect(await row()).toMatchObject({ snoozed_by: null, snoozed_until: null });
    expect(fake.updatesOf(cardTs)).toHaveLength(updates);
  });

  it("an operator's Snooze records until when, audits it and re-renders the card", async () => {
    const before = Date.now();
    await click(ALERT_ACTIONS.snooze, `${alertId}:4h`, ALICE);
    await fake.waitFor(
      () => fake.updatesOf(cardTs).some((u) => JSON.stringify(u).includes(ALICE)),
      () => "the card was not re-rendered with the snooze",
    );
    const r = await row();
    expect(r.snoozed_by).toBe(ALICE);
    expect((r.snoozed_until as Date).getTime()).toBeGreaterThanOrEqual(before + 4 * 3600_000 - 5_000);
    const audit = await operator.auditLog({ limit: 5 });
    expect(audit[0]).toMatchObject({ actor: ALICE, action: "scrypath.alerts.snooze" });
  });

  it("a click outside the allowed channels, or on a resolved alert, records nothing and says why", async () => {
    const outside = await click(ALERT_ACTIONS.acknowledge, String(alertId), ALICE, "C0ELSEWHERE");
    expect(await ephemeral(outside)).toMatch(/does not answer in this channel/);
    expect(await row()).toMatchObject({ acked_by: DAVE });

    await d.oban.pool.query(`UPDATE "${config.state.schema}".alerts SET status = 'resolved' WHERE id = $1`, [
      alertId,
    ]);
    const resolved = await click(ALERT_ACTIONS.acknowledge, String(alertId), ALICE);
    expect(await ephemeral(resolved)).toMatch(/already resolved/);
    const bogus = await click(ALERT_ACTIONS.snooze, `${alertId}:forever`, ALICE);
    expect(await ephemeral(bogus)).toMatch(/not one of the snooze choices/);
  });

  it("the app's runner hears /scrypath watch subscriptions as well as the YAML ones", async () => {
    await operator.alertSubscriptions.watch(
      { channel: CHANNEL, schema: WATCHED, conditions: ["failures"], minFailures: 1, mention: null },
      { id: ALICE },
    );
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: "q_watched",
      args: upsertArgs(WATCHED, `${d.indexPrefix}_order`, [1]),
      errors: [obanError("** (Req.TransportError) timeout", 3, new Date())],
      attempt: 3,
      maxAttempts: 3,
      attemptedAt: new Date(),
      discardedAt: new Date(),
    });
    const tick = await bot.alerts.tick(new Date(Date.now() + 60_000));
    const { rows } = await d.oban.pool.query(
      `SELECT id, message_ts FROM "${config.state.schema}".alerts WHERE schema_module = $1`,
      [WATCHED],
    );
    expect(rows).toHaveLength(1);
    expect(tick.opened).toContain(Number(rows[0].id));
    expect(fake.listMessages(CHANNEL).map((m) => m.ts)).toContain(rows[0].message_ts);
  });
});
