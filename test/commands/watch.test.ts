// The watch verbs at the command layer, over the real operator: arguments (conditions, the user
// group as Slack escapes it), deny by default when no operator check is wired, and no subscription
// without knowing that the bot can post in the channel.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helpEntries, runSlashCommand } from "../../commands/index.ts";
import type { CommandDeps } from "../../commands/types.ts";
import { usergroupId } from "../../commands/watch.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { postsSchema } from "../support/posts.ts";

const who = { userId: "U0ALICE001", channelId: "C0ONCALL01" };

describe("/scrypath watch at the command layer", () => {
  let d: TestDeployment;
  let deps: CommandDeps;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    deps = { operator: d.operator, config: d.config, now: () => new Date("2026-11-24T12:00:00Z") };
  });
  afterAll(() => d?.close());

  const audit = async () =>
    (
      await d.oban.pool.query(
        `SELECT actor, outcome, reason FROM "${d.config.state.schema}".audit_log ORDER BY id`,
      )
    ).rows;

  it("reads a user group as Slack escapes it, or its raw id, and nothing else", () => {
    expect(usergroupId("<!subteam^S0123ABCD|@search-oncall>")).toBe("S0123ABCD");
    expect(usergroupId("<!subteam^S0123ABCD>")).toBe("S0123ABCD");
    expect(usergroupId("S0123ABCD")).toBe("S0123ABCD");
    for (const bad of ["@search-oncall", "<@U0123ABCD>", "<!channel>", "s0123", "<!subteam^U0123>"]) {
      expect(usergroupId(bad)).toBeNull();
    }
  });

  it("denies by default when no operator check is wired, and audits it", async () => {
    const result = await runSlashCommand("watch posts", who, deps);
    expectValidMessage(result.message);
    expect(result.message.text).toContain("Not allowed");
    expect(await audit()).toEqual([{ actor: who.userId, outcome: "refused", reason: "not_an_operator" }]);
  });

  it("stores nothing when it cannot tell whether the bot can post in the channel", async () => {
    const allowed: CommandDeps = { ...deps, operatorRole: async () => ({ allowed: true }) };
    const result = await runSlashCommand("watch posts", who, allowed);
    expect(result.message.text).toContain("I could not check whether I can post in this channel");
    expect(await d.operator.alertSubscriptions.list(who.channelId)).toEqual([]);
    expect((await audit()).at(-1)).toMatchObject({ reason: "channel_unchecked" });
    const ok = await runSlashCommand("watch posts --on failures,drift,failures", who, {
      ...allowed,
      channels: { standing: async () => ({ postable: true }) },
    });
    expect(ok.outcome).toBe("ok");
    expect((await d.operator.alertSubscriptions.list(who.channelId))[0]?.on).toEqual(["failures", "drift"]);
  });

  it("checks its arguments before anything else", async () => {
    for (const [text, problem] of [
      ["watch", "expected a schema or `all`"],
      ["watch posts products", "expected one schema or `all`"],
      ["watch posts --on ''", "--on needs at least one"],
      ["watch posts --min 0", "--min expects a positive whole number"],
      ["watches posts", "`watches` takes no schema"],
    ]) {
      const result = await runSlashCommand(text as string, who, deps);
      expect({ text, outcome: result.outcome }).toEqual({ text, outcome: "usage" });
      expect(result.message.text).toContain(problem);
    }
  });

  it("lists the verbs in help as operators only, without a confirmation", () => {
    for (const name of ["watch", "unwatch"]) {
      expect(helpEntries().find((e) => e.name === name)).toMatchObject({ mutates: false, audited: true });
    }
    expect(helpEntries().find((e) => e.name === "watches")).toMatchObject({ mutates: false, audited: false });
  });
});
