// `/scrypath watch | unwatch | watches` end to end: signed slash commands into the real Bolt app,
// real Postgres, the fake Slack answering conversations.info and usergroups.users.list. Operators
// only (deny by default), every attempt audited, a channel the bot cannot post in refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";
import { ALICE, BOB, CAROL, CHANNEL, DAVE, Harness, jargonIn, type TestBot } from "./confirmHarness.ts";

describe("/scrypath watch, unwatch and watches over signed HTTP", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;

  beforeAll(async () => {
    d = await testDeployment([postsSchema(), { module: "MyApp.Catalog.Product", alias: "products" }]);
    // A subscription kept in the configuration file, besides those made from Slack.
    d.raw.alerts = {
      subscriptions: [{ channel: CHANNEL, schemas: ["posts"], on: ["failures"], minFailures: 2 }],
    };
    h = await Harness.create(d);
    // Its own operator: the deployment's was made before the configuration had alerts:.
    bot = await h.bot({ ownOperator: true });
  });
  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  const said = async (text: string, user = ALICE) => {
    const body = await h.answer(await h.command(bot, text, user));
    return body;
  };
  const stored = async () => {
    const { rows } = await d.oban.pool.query(
      `SELECT channel, schema_module, conditions, min_failures, mention, created_by, updated_by
       FROM "${d.config.state.schema}".alert_subscriptions ORDER BY id`,
    );
    return rows;
  };
  const audit = async () => {
    const { rows } = await d.oban.pool.query(
      `SELECT actor, action, schema_module, outcome, reason, target, context
       FROM "${d.config.state.schema}".audit_log WHERE action LIKE 'scrypath.alerts.%' ORDER BY id`,
    );
    return rows;
  };
  const text = (body: Record<string, unknown>) => JSON.stringify(body);

  it("subscribes the channel for an operator, and updates it on a second watch saying what changed", async () => {
    const first = await said("watch posts --on failures,drift --min 3 --mention <!subteam^S0OPS00001|@ops>");
    expect(text(first)).toContain("This channel now hears alerts about *`MyApp.Blog.Post`*");
    expect(text(first)).toContain("terminal failures (at least 3), contract drift");
    expect(text(first)).not.toContain("<!subteam");
    expect(await stored()).toEqual([
      {
        channel: CHANNEL,
        schema_module: POST,
        conditions: ["failures", "drift"],
        min_failures: 3,
        mention: "S0OPS00001",
        created_by: ALICE,
        updated_by: null,
      },
    ]);

    // A member of the operators' user group may watch too; again the same (channel, schema): one row.
    const second = await said("watch posts --on drift --mention S0OPS00001", CAROL);
    expect(text(second)).toContain("Updated this channel's alerts");
    expect(text(second)).toContain("conditions terminal failures, contract drift → contract drift");
    expect(text(second)).toContain("minimum failures 3 → 1");
    expect(await stored()).toHaveLength(1);
    expect((await stored())[0]).toMatchObject({ conditions: ["drift"], updated_by: CAROL });
    expect((await audit()).map((r) => [r.actor, r.outcome])).toEqual([
      [ALICE, "watched"],
      [CAROL, "updated"],
    ]);
    expect((await audit())[0]).toMatchObject({
      action: "scrypath.alerts.watch",
      schema_module: POST,
      target: { channel: CHANNEL, conditions: ["failures", "drift"], min_failures: 3, mention: "S0OPS00001" },
      context: { channel: CHANNEL, via: "slack" },
    });
  });

  it("refuses a non-operator, audited, and stores nothing", async () => {
    const before = (await audit()).length;
    const refused = await said("watch products", DAVE);
    expect(text(refused)).toContain("Not allowed");
    expect(text(refused)).toContain("is for operators");
    const unwatched = await said("unwatch posts", DAVE);
    expect(text(unwatched)).toContain("Not allowed");
    expect((await stored()).map((r) => r.schema_module)).toEqual([POST]);
    expect((await audit()).slice(before).map((r) => [r.actor, r.action, r.outcome, r.reason])).toEqual([
      [DAVE, "scrypath.alerts.watch", "refused", "not_an_operator"],
      [DAVE, "scrypath.alerts.unwatch", "refused", "not_an_operator"],
    ]);
    // --all lists every channel's: operators only.
    expect(text(await said("watches --all", DAVE))).toContain("Not allowed");
  });

  it("refuses a channel the bot is not in, or an archived one, audited, nothing stored", async () => {
    const before = (await audit()).length;
    h.fake.channels.set(CHANNEL, { id: CHANNEL, name: "oncall", isMember: false });
    const notIn = await said("watch products");
    expect(text(notIn)).toContain("I can't post in this channel: invite me with `/invite @scrypath` first");
    h.fake.channels.set(CHANNEL, { id: CHANNEL, name: "oncall", isArchived: true });
    const archived = await said("watch all");
    expect(text(archived)).toContain("I can't post in this channel: it is archived");
    h.fake.failApi("conversations.info", { status: 200, error: "missing_scope" });
    const unchecked = await said("watch products");
    expect(text(unchecked)).toContain("I could not check whether I can post in this channel");
    expect(text(unchecked)).toContain("channels:read");
    h.fake.channels.delete(CHANNEL);
    expect((await stored()).map((r) => r.schema_module)).toEqual([POST]);
    expect((await audit()).slice(before).map((r) => [r.outcome, r.reason, r.target.schema])).toEqual([
      ["refused", "bot_not_in_channel", "MyApp.Catalog.Product"],
      ["refused", "channel_archived", "all"],
      ["refused", "channel_unchecked", "MyApp.Catalog.Product"],
    ]);
    expect(h.fake.callsTo("conversations.info").at(-1)?.body).toMatchObject({ channel: CHANNEL });
  });

  it("answers an unknown schema with did-you-mean, and refuses stuck without stuckAfter, both audited", async () => {
    const before = (await audit()).length;
    const unknown = await said("watch postz --on drift");
    expect(text(unknown)).toContain('unknown schema \\"postz\\"');
    expect(text(unknown)).toContain("Did you mean `/scrypath watch posts --on drift`?");
    const stuck = await said("watch posts --on stuck");
    expect(text(stuck)).toContain("alerts.stuckAfter");
    expect(text(stuck)).toContain("stuck_not_configured");
    expect((await audit()).slice(before).map((r) => [r.outcome, r.reason])).toEqual([
      ["refused", "unknown_schema"],
      ["refused", "stuck_not_configured"],
    ]);
  });

  it("refuses a mention that is not a user group, with an example", async () => {
    const bad = await said("watch posts --mention @ops");
    expect(text(bad)).toContain("--mention expects a Slack user group");
    expect(text(bad)).toContain("--mention @search-oncall");
    const badOn = await said("watch posts --on failurs");
    expect(text(badOn)).toContain("did you mean failures?");
  });

  it("lists the channel's subscriptions with where each came from", async () => {
    const list = await said("watches");
    const shown = text(list);
    expect(shown).toContain("_configuration file_");
    expect(shown).toContain("terminal failures (at least 2)");
    expect(shown).toMatch(new RegExp(`watched by <@${ALICE}> on <!date\\^\\d+\\^`));
    expect(shown).toContain(`changed by <@${CAROL}>`);
    expect(jargonIn(list)).toEqual([]);
    const all = await said("watches --all", BOB);
    expect(text(all)).toContain(`<#${CHANNEL}>`);
  });

  it("keeps a YAML subscription (code review), removes a stored one, and /scrypath audit shows every attempt", async () => {
    const yaml = await said("unwatch products");
    expect(text(yaml)).toContain("this channel does not watch MyApp.Catalog.Product");
    await said("watch all --on unreadable");
    const removedAll = await said("unwatch all");
    expect(text(removedAll)).toContain("This channel no longer hears alerts about *all schemas*");
    const removed = await said("unwatch posts");
    expect(text(removed)).toContain("no longer hears alerts about *`MyApp.Blog.Post`*");
    expect(text(removed)).toContain("It still hears them from the configuration file");
    const kept = await said("unwatch posts");
    expect(text(kept)).toContain("kept in the configuration file");
    expect(text(kept)).toContain("change it in code review");
    expect(await stored()).toEqual([]);

    const log = text(await said("audit --limit 50", BOB));
    expect(log).toContain("*watch*");
    expect(log).toContain("*unwatch*");
    expect(log).toContain("`not_an_operator`");
    expect(log).toContain("`bot_not_in_channel`");
    expect(log).toContain("`kept_in_configuration`");
    expect(log).toContain(`<#${CHANNEL}>`);
    expect(log).toContain("schema `postz`");
  });

  it("denies by default: with no operators configured nobody may watch, and the refusal is audited", async () => {
    const open = await h.bot({ access: { channels: [CHANNEL] } });
    const before = (await audit()).length;
    const body = await h.answer(await h.command(open, "watch posts", ALICE));
    expect(text(body)).toContain("no operators are configured");
    expect(await stored()).toEqual([]);
    expect((await audit()).slice(before).map((r) => [r.actor, r.reason])).toEqual([
      [ALICE, "no_operators_configured"],
    ]);
  });
});
