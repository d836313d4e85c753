// The alert card and its thread timeline: every condition open and resolved, who is looking,
// snoozes, the hold-down, the mention, honesty about what is not known, and the usual escaping,
// redaction and Block Kit limits. Pure: no services.
import type { ActionsBlock, Button, StaticSelect } from "@slack/types";
import { describe, expect, it } from "vitest";
import type { AlertCardModel, AlertEvidence, TimelineEvent } from "../../src/core/alertTypes.ts";
import { alertCard, alertTimeline, duration } from "../../views/alert.ts";
import { CLASS_HINTS } from "../../views/failed.ts";
import { ALERT_ACTIONS, type SlackMessage } from "../../views/types.ts";
import { ALL_SECRETS, CREDENTIALS } from "../support/credentials.ts";
import { expectSafe, HOSTILE, NOW, SECRET, viewContext, visibleText } from "./fixtures.ts";

const ISO = (minutesBeforeNow: number) => new Date(NOW.getTime() - minutesBeforeNow * 60_000).toISOString();
const unix = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

const failures = (over: Partial<Extract<AlertEvidence, { condition: "failures" }>> = {}): AlertEvidence => ({
  condition: "failures",
  recent: 12,
  recentByClass: { validation: 4, transport: 8 },
  dominant: "transport",
  terminal: 40,
  needTriage: 28,
  newest: {
    at: ISO(2),
    reasonClass: "transport",
    error: "** (Req.TransportError) connection refused",
    source: "oban",
  },
  replays: { total: 3, resolved: 2, verified: 1 },
  windowSeconds: 900,
  minFailures: 1,
  scope: "all",
  ...over,
});

function model(over: Partial<AlertCardModel> = {}): AlertCardModel {
  return {
    id: 7,
    condition: "failures",
    schema: "MyApp.Blog.Post",
    alias: "posts",
    index: "posts_live",
    status: "open",
    openedAt: ISO(42),
    clearingSince: null,
    resolvedAt: null,
    evidence: failures(),
    checkedAt: ISO(0.5),
    acknowledgedBy: null,
    acknowledgedAt: null,
    snoozedUntil: null,
    snoozedUntilResolved: false,
    snoozedBy: null,
    mention: null,
    ...over,
  };
}

const resolvedAt = ISO(0);
const resolved = (over: Partial<AlertCardModel> = {}) =>
  model({ status: "resolved", resolvedAt, clearingSince: ISO(5), ...over });

const drift: AlertEvidence = { condition: "drift", differing: ["filterable_attributes", "settings"] };
const unreadable: AlertEvidence = {
  condition: "unreadable",
  problems: [
    { backend: "postgres", message: "connect ECONNREFUSED 127.0.0.1:5432" },
    { backend: "meilisearch", message: "fetch failed: getaddrinfo ENOTFOUND meili" },
  ],
  failedChecks: 3,
  since: ISO(2),
};
const stuck: AlertEvidence = {
  condition: "stuck",
  pending: 57,
  oldestPendingAt: ISO(25),
  stuckAfterSeconds: 600,
};

const ctx = viewContext();
const ALLOWED = { allowedUsers: ["U0ACK", "U0SNZ"], allowedGroups: ["S0ONCALL"] };

function actionsBlock(m: SlackMessage): ActionsBlock | undefined {
  return m.blocks.find((b): b is ActionsBlock => b.type === "actions");
}
function buttons(m: SlackMessage): Button[] {
  return (actionsBlock(m)?.elements ?? []).filter((e): e is Button => e.type === "button");
}
function select(m: SlackMessage): StaticSelect | undefined {
  return actionsBlock(m)?.elements.find((e): e is StaticSelect => e.type === "static_select");
}

describe("alertCard: terminal failures", () => {
  it("opens with the condition, the schema, the evidence and the buttons", () => {
    const m = alertCard(model(), ctx);
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain(
      ":rotating_light: *Terminal failures* · `posts` (MyApp.Blog.Post) · index `posts_live`",
    );
    expect(text).toContain(
      "*12 new terminal failures* in the last 15 min (≥ 1 opens this alert) · 40 terminal in total, 28 need triage",
    );
    // By class, most first, and the dominant class's advice as `/scrypath failed` gives it.
    expect(text).toContain("*By class:* `transport` 8 · `validation` 4");
    expect(text).toContain(`*Dominant:* \`transport\` — ${CLASS_HINTS.transport}`);
    expect(text).toContain(`*Newest error* (\`transport\`, Oban job, <!date^${unix(ISO(2))}^`);
    expect(text).toContain("> ** (Req.TransportError) connection refused");
    expect(text).toContain("*Replays:* 3 replayed · 2 resolved (1 verified)");
    expect(text).toContain(`Open since <!date^${unix(ISO(42))}^`);
    expect(text).toContain("(42 min ago)");
    expect(text).toContain(`checked <!date^${unix(ISO(0.5))}^`);
    expect(text).not.toContain("could not be read");
    expect(m.text).toBe("Terminal failures on posts: 12 new in the last 15 min (mostly transport)");

    const block = actionsBlock(m);
    expect(block?.block_id).toBe("alert:7:actions");
    const b = buttons(m);
    expect(b.map((x) => [x.text.text, x.action_id, x.value])).toEqual([
      ["Failed work", ALERT_ACTIONS.failed, JSON.stringify({ schema: "MyApp.Blog.Post" })],
      ["Reconcile", ALERT_ACTIONS.reconcile, JSON.stringify({ schema: "MyApp.Blog.Post" })],
      ["Acknowledge", ALERT_ACTIONS.acknowledge, "7"],
    ]);
    const s = select(m);
    expect(s?.action_id).toBe(ALERT_ACTIONS.snooze);
    expect(s?.placeholder?.text).toBe("Snooze…");
    expect(s?.options?.map((o) => [o.text.text, o.value])).toEqual([
      ["1 h", "7:1h"],
      ["4 h", "7:4h"],
      ["24 h", "7:24h"],
      ["until resolved", "7:resolved"],
    ]);
  });

  it("says when Meilisearch could not be read and only Oban's plane is counted", () => {
    const m = alertCard(model({ evidence: failures({ scope: "queue" }) }), ctx);
    expectSafe(m, ALLOWED);
    expect(visibleText(m)).toContain("Meilisearch could not be read: backend failures are not counted");
  });

  it("without a newest error, replays or dominant class, says only what it knows", () => {
    const m = alertCard(
      model({
        alias: null,
        index: null,
        evidence: failures({
          recent: 1,
          recentByClass: { unknown: 1 },
          dominant: null,
          needTriage: 1,
          newest: { at: ISO(1), reasonClass: "unknown", error: null, source: "meilisearch" },
          replays: { total: 0, resolved: 0, verified: 0 },
        }),
      }),
      ctx,
    );
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain(":rotating_light: *Terminal failures* · `MyApp.Blog.Post`\n");
    expect(text).toContain("*1 new terminal failure* in the last 15 min");
    expect(text).toContain("1 needs triage");
    expect(text).toContain("Meilisearch task");
    expect(text).toContain("_no error text_");
    expect(text).not.toContain("Replays");
    expect(text).not.toContain("Dominant");
  });

  it("resolves with how long it lasted, what replays did, and what resolved does not claim", () => {
    const m = alertCard(
      resolved({ evidence: failures({ recent: 0, replays: { total: 31, resolved: 29, verified: 27 } }) }),
      ctx,
    );
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain(":white_check_mark: *Resolved* · Terminal failures · `posts`");
    expect(text).toContain(`*Resolved* at <!date^${unix(resolvedAt)}^`);
    expect(text).toContain("after 42 min.");
    expect(text).toContain("31 rows replayed · 29 resolved (27 verified).");
    expect(text).toContain("not that every row was replayed: 28 terminal rows still need triage");
    expect(text).not.toContain(":rotating_light:");
    expect(m.text).toBe("Resolved: terminal failures on posts after 42 min");
    // Only Failed work remains, since rows still need triage.
    expect(buttons(m).map((b) => b.action_id)).toEqual([ALERT_ACTIONS.failed]);
    expect(select(m)).toBeUndefined();
    expect(text).not.toContain("Open since");
  });

  it("a resolved card with nothing left to triage has no buttons", () => {
    const m = alertCard(resolved({ evidence: failures({ recent: 0, needTriage: 0 }) }), ctx);
    expectSafe(m, ALLOWED);
    expect(actionsBlock(m)).toBeUndefined();
    expect(visibleText(m)).not.toContain("still need");
  });
});

describe("alertCard: the other conditions", () => {
  it("contract drift names the differing dimensions and the drift command", () => {
    const m = alertCard(model({ condition: "drift", evidence: drift }), ctx);
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain(":rotating_light: *Contract drift* · `posts`");
    expect(text).toContain("2 of 5 dimensions differ — `filterable_attributes`, `settings`");
    expect(text).toContain("`/scrypath drift posts`");
    expect(m.text).toBe(
      "Contract drift on posts: filterable_attributes, settings differ from the declared contract",
    );
    const r = alertCard(resolved({ condition: "drift", evidence: drift }), ctx);
    expectSafe(r, ALLOWED);
    expect(visibleText(r)).toContain("matched the declared contract for the whole hold-down");
    expect(r.text).toBe("Resolved: contract drift on posts after 42 min");
    expect(actionsBlock(r)).toBeUndefined();
  });

  it("unreadable names each backend with its sentence and says the numbers are unknown, not zero", () => {
    const m = alertCard(model({ condition: "unreadable", evidence: unreadable }), ctx);
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain("*PostgreSQL* could not be read: connect ECONNREFUSED 127.0.0.1:5432");
    expect(text).toContain("*Meilisearch* could not be read: fetch failed: getaddrinfo ENOTFOUND meili");
    expect(text).toContain(`3 consecutive checks failed since <!date^${unix(ISO(2))}^`);
    expect(text).toContain("*unknown, not zero*");
    expect(m.text).toBe(
      "Unreadable backend on posts: PostgreSQL and Meilisearch could not be read for 3 checks in a row",
    );
    const r = alertCard(resolved({ condition: "unreadable", evidence: unreadable }), ctx);
    expectSafe(r, ALLOWED);
    expect(visibleText(r)).toContain("Every backend answered again");
    expect(visibleText(r)).not.toContain("unknown, not zero");
  });

  it("stuck queue says how many are pending and since when", () => {
    const m = alertCard(model({ condition: "stuck", evidence: stuck }), ctx);
    expectSafe(m, ALLOWED);
    const text = visibleText(m);
    expect(text).toContain(`*57 pending*, the oldest waiting since <!date^${unix(ISO(25))}^`);
    expect(text).toContain("(more than 10 min)");
    expect(m.text).toBe("Stuck queue on posts: 57 pending, the oldest waiting 25 min");
    const r = alertCard(resolved({ condition: "stuck", evidence: stuck }), ctx);
    expectSafe(r, ALLOWED);
    expect(visibleText(r)).toContain("No pending work was older than 10 min");
  });
});

describe("alertCard: people and time", () => {
  it("shows who is looking and drops the Acknowledge button once someone is", () => {
    const m = alertCard(model({ acknowledgedBy: "U0ACK", acknowledgedAt: ISO(3) }), ctx);
    expectSafe(m, ALLOWED);
    expect(visibleText(m)).toContain(`:eyes: <@U0ACK> is looking (since <!date^${unix(ISO(3))}^`);
    expect(buttons(m).map((b) => b.action_id)).toEqual([ALERT_ACTIONS.failed, ALERT_ACTIONS.reconcile]);
    expect(select(m)).toBeDefined();
  });

  it("shows a snooze until a time, and until resolved", () => {
    const until = new Date(NOW.getTime() + 3_600_000).toISOString();
    const timed = alertCard(model({ snoozedUntil: until, snoozedBy: "U0SNZ" }), ctx);
    expectSafe(timed, ALLOWED);
    expect(visibleText(timed)).toContain(`:zzz: Snoozed by <@U0SNZ> until <!date^${unix(until)}^`);
    const open = alertCard(model({ snoozedUntilResolved: true, snoozedBy: "U0SNZ" }), ctx);
    expectSafe(open, ALLOWED);
    expect(visibleText(open)).toContain(":zzz: Snoozed by <@U0SNZ> until resolved");
    // A snooze that has run out is not shown.
    const over = alertCard(model({ snoozedUntil: ISO(1), snoozedBy: "U0SNZ" }), ctx);
    expect(visibleText(over)).not.toContain(":zzz:");
  });

  it("while clearing, says it resolves after the hold-down unless it comes back", () => {
    const m = alertCard(model({ clearingSince: ISO(2) }), ctx);
    expectSafe(m, ALLOWED);
    expect(visibleText(m)).toContain(
      `Cleared at <!date^${unix(ISO(2))}^{date_short_pretty} {time}|2026-11-20 09:58 UTC>; resolves after the hold-down unless it comes back`,
    );
    expect(visibleText(alertCard(model(), ctx))).not.toContain("Cleared at");
  });

  it("mentions the user group only when the model carries one, and never on a resolved card", () => {
    const plain = alertCard(model(), ctx);
    expect(JSON.stringify(plain)).not.toContain("subteam");
    const m = alertCard(model({ mention: "S0ONCALL" }), ctx);
    expectSafe(m, ALLOWED);
    expect(m.text.startsWith("<!subteam^S0ONCALL> Terminal failures on posts")).toBe(true);
    expect(visibleText(m)).toContain("<!subteam^S0ONCALL> :rotating_light: *Terminal failures*");
    const wrapped = alertCard(model({ mention: "<!subteam^S0ONCALL>" }), ctx);
    expect(wrapped.text.startsWith("<!subteam^S0ONCALL> ")).toBe(true);
    expect(JSON.stringify(alertCard(resolved({ mention: "S0ONCALL" }), ctx))).not.toContain("subteam");
    // Something that is not a user group id mentions nobody.
    const bad = alertCard(model({ mention: "!channel" }), ctx);
    expectSafe(bad, ALLOWED);
    expect(JSON.stringify(bad)).not.toMatch(/<!channel>|subteam/);
  });
});

describe("alertCard: hostile data", () => {
  it("escapes mentions, links, ampersands and emphasis in errors, names and backend sentences", () => {
    const error = `${HOSTILE} *bold* _it_ \`tick\` password=${SECRET}`;
    const m = alertCard(
      model({
        schema: `MyApp.<!here>`,
        alias: "po<!channel>sts",
        index: "a&b",
        evidence: failures({ newest: { at: ISO(1), reasonClass: "unknown", error, source: "oban" } }),
      }),
      ctx,
    );
    expectSafe(m, ALLOWED);
    // Button values carry the schema as data (never rendered); everything a reader sees is escaped.
    const text = visibleText(m);
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<!here>");
    expect(JSON.stringify(m)).not.toContain(SECRET);
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).toContain("&amp;");
    expect(m.text).toContain("po&lt;!channel&gt;sts");
    const u = alertCard(
      model({
        condition: "unreadable",
        evidence: {
          ...unreadable,
          problems: [{ backend: "postgres", message: `${HOSTILE} password=${SECRET}` }],
        },
      }),
      ctx,
    );
    expectSafe(u, ALLOWED);
  });

  it.each(CREDENTIALS.map((c) => [c.name, c] as const))("redacts %s in the newest error", (_n, c) => {
    const m = alertCard(
      model({
        evidence: failures({
          newest: { at: ISO(1), reasonClass: "transport", error: c.text, source: "oban" },
        }),
      }),
      ctx,
    );
    expectSafe(m, ALLOWED);
    const json = JSON.stringify(m);
    for (const secret of c.secrets) expect(json).not.toContain(secret);
  });

  it("redacts the whole corpus in backend sentences", () => {
    const problems = CREDENTIALS.map((c, i) => ({
      backend: i % 2 === 0 ? ("postgres" as const) : ("meilisearch" as const),
      message: c.text,
    }));
    const m = alertCard(model({ condition: "unreadable", evidence: { ...unreadable, problems } }), ctx);
    expectSafe(m, ALLOWED);
    const json = JSON.stringify(m);
    for (const secret of ALL_SECRETS) expect(json).not.toContain(secret);
  });
});

const at = (minutesBeforeNow: number) => ISO(minutesBeforeNow);

describe("alertTimeline", () => {
  it("says each change on its own line, oldest first, with its time", () => {
    const events: TimelineEvent[] = [
      { kind: "doubled", at: at(9), from: 6, to: 12 },
      { kind: "new_class", at: at(10), reasonClass: "transport", count: 5 },
      { kind: "retry_confirmed", at: at(8), replays: 3 },
      { kind: "replays_resolved", at: at(7), resolved: 2, verified: 1 },
      { kind: "acknowledged", at: at(6), userId: "U0ACK" },
      { kind: "snoozed", at: at(5), userId: "U0SNZ", until: at(-55) },
      { kind: "snoozed", at: at(5), userId: "U0SNZ", until: null },
      { kind: "clearing", at: at(4) },
      { kind: "reopened", at: at(3) },
      { kind: "drift_changed", at: at(2), differing: ["settings"] },
      { kind: "drift_changed", at: at(2), differing: [] },
      { kind: "resolved", at: at(1), durationSeconds: 42 * 60 },
    ];
    const m = alertTimeline(model(), events, ctx);
    expectSafe(m, ALLOWED);
    const lines = visibleText(m)
      .split("\n")
      .filter((l) => l.startsWith("• "));
    expect(lines).toEqual([
      `• <!date^${unix(at(10))}^{time}|09:50 UTC> new class \`transport\` (5)`,
      `• <!date^${unix(at(9))}^{time}|09:51 UTC> count doubled: 6 → 12`,
      `• <!date^${unix(at(8))}^{time}|09:52 UTC> a retry was confirmed: 3 replays`,
      `• <!date^${unix(at(7))}^{time}|09:53 UTC> replays resolved: 2 (1 verified)`,
      `• <!date^${unix(at(6))}^{time}|09:54 UTC> acknowledged by <@U0ACK>`,
      `• <!date^${unix(at(5))}^{time}|09:55 UTC> snoozed by <@U0SNZ> until <!date^${unix(at(-55))}^{date_short_pretty} {time}|2026-11-20 10:55 UTC>`,
      `• <!date^${unix(at(5))}^{time}|09:55 UTC> snoozed by <@U0SNZ> until resolved`,
      `• <!date^${unix(at(4))}^{time}|09:56 UTC> cleared; resolves after the hold-down unless it comes back`,
      `• <!date^${unix(at(3))}^{time}|09:57 UTC> came back before the hold-down ended`,
      `• <!date^${unix(at(2))}^{time}|09:58 UTC> contract now differs in \`settings\``,
      `• <!date^${unix(at(2))}^{time}|09:58 UTC> contract matches again`,
      `• <!date^${unix(at(1))}^{time}|09:59 UTC> resolved after 42 min`,
    ]);
    expect(m.text).toBe("Terminal failures on posts: new class `transport` (5) and 11 more changes");
  });

  it("200 changes stay within Slack's limits and say how many more there were", () => {
    const events: TimelineEvent[] = Array.from({ length: 200 }, (_, i) => ({
      kind: "new_class",
      at: new Date(NOW.getTime() + i * 1000).toISOString(),
      reasonClass: "backend_rejected",
      count: 100_000 + i,
    }));
    const m = alertTimeline(model(), events, ctx);
    expectSafe(m, ALLOWED);
    expect(m.blocks.length).toBeLessThanOrEqual(3);
    const text = visibleText(m);
    const shown = text.split("\n").filter((l) => l.startsWith("• ")).length;
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(200);
    expect(text).toContain(`… and ${200 - shown} more changes`);
    expect(JSON.stringify(m.blocks).length).toBeLessThan(12_000);
  });

  it("escapes a hostile schema name and still has a fallback with no events", () => {
    const m = alertTimeline(model({ alias: "<!channel>&" }), [], ctx);
    expectSafe(m, ALLOWED);
    expect(m.text).toBe("Terminal failures on &lt;!channel&gt;&amp;: no changes");
  });
});

describe("duration", () => {
  it("reads like the rest of the bot", () => {
    expect(duration(30)).toBe("less than a minute");
    expect(duration(42 * 60)).toBe("42 min");
    expect(duration(3600)).toBe("1 h");
    expect(duration(125 * 60)).toBe("2 h 5 min");
    expect(duration(3 * 86_400 + 4 * 3600)).toBe("3 d 4 h");
  });
});
