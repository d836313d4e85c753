import { describe, expect, it } from "vitest";
import type { AuditLogEntry as AuditRow } from "../../src/operator/auditLog.ts";
import { AUDIT_ACTIONS } from "../../src/state/audit.ts";
import { auditLine, auditView, shortAction } from "../../views/audit.ts";
import { expectSafe, HOSTILE, INDEX, NOW, SCHEMA, SECRET, viewContext, visibleText } from "./fixtures.ts";

const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);
const unix = (d: Date) => Math.floor(d.getTime() / 1000);

function row(over: Partial<AuditRow> = {}): AuditRow {
  return {
    id: 1,
    at: minutesAgo(5),
    actor: "U0ALICE",
    action: AUDIT_ACTIONS.retry,
    schema: SCHEMA,
    index: INDEX,
    target: { source: "oban", id: 601, new_job_id: 1234 },
    outcome: "accepted",
    reason: null,
    details: { queue: "search_sync" },
    context: { channel: "C1" },
    ...over,
  };
}

const sectionTexts = (m: ReturnType<typeof auditView>) =>
  m.blocks.flatMap((b) => (b.type === "section" && b.text ? [b.text.text] : []));
const lines = (m: ReturnType<typeof auditView>) => sectionTexts(m).join("\n").split("\n");

describe("auditView", () => {
  it("says so when there are no entries", () => {
    const m = auditView([], viewContext(), { limit: 20 });
    expectSafe(m);
    expect(visibleText(m)).toContain("No audit entries.");
    expect(m.text).toBe("Audit log: No audit entries.");
    const scoped = auditView([], viewContext(), { schema: SCHEMA, limit: 20 });
    expect(visibleText(scoped)).toContain(`No audit entries for \`${SCHEMA}\`.`);
    expect(scoped.text).toBe(`Audit log for ${SCHEMA}: No audit entries.`);
  });

  it("lists entries newest first, one compact line each", () => {
    const rows = [
      row({ id: 1, at: minutesAgo(30) }),
      row({
        id: 3,
        at: minutesAgo(1),
        action: AUDIT_ACTIONS.swap,
        target: { live_index: INDEX, target_index: `${INDEX}__reindex` },
        outcome: "succeeded",
        details: { task_uid: 880 },
      }),
      row({
        id: 2,
        at: minutesAgo(10),
        actor: "cli:alice",
        outcome: "refused",
        reason: "already_replayed",
        target: { source: "oban", id: 601 },
      }),
    ];
    const m = auditView(rows, viewContext(), { schema: SCHEMA, limit: 20 });
    expectSafe(m, { allowedUsers: ["U0ALICE"] });
    const shown = lines(m);
    expect(shown).toHaveLength(3);
    expect(shown[0]).toBe(
      `<!date^${unix(minutesAgo(1))}^{date_short_pretty} {time}|2026-11-20 09:59 UTC> · <@U0ALICE> · *swap* · \`${SCHEMA}\` · :white_check_mark: succeeded · \`prod_posts\` ⇄ \`prod_posts__reindex\` task 880`,
    );
    expect(shown[1]).toContain("· `cli:alice` · *retry* ·");
    expect(shown[1]).toContain(":no_entry: refused `already_replayed` · `oban:601`");
    expect(shown[2]).toContain("· <@U0ALICE> · *retry* ·");
    expect(shown[2]).toContain(":inbox_tray: accepted · `oban:601` → job 1234");
    expect(m.text).toBe(`Audit log for ${SCHEMA}: 3 entries, newest first`);
    expect(visibleText(m)).toContain(`3 entries for \`${SCHEMA}\` · newest first · limit 20`);
  });

  it("names actions the way operators type them", () => {
    expect(shortAction({ action: AUDIT_ACTIONS.retry, target: {} })).toBe("retry");
    expect(shortAction({ action: AUDIT_ACTIONS.backfill, target: {} })).toBe("backfill");
    expect(shortAction({ action: AUDIT_ACTIONS.reindex, target: {} })).toBe("reindex");
    expect(shortAction({ action: AUDIT_ACTIONS.swap, target: {} })).toBe("swap");
    expect(shortAction({ action: AUDIT_ACTIONS.hotApply, target: { keys: ["synonyms"] } })).toBe("hot_apply");
    expect(shortAction({ action: AUDIT_ACTIONS.hotApply, target: { revert_of: 12 } })).toBe("revert");
    expect(shortAction({ action: "scrypath.bot.confirmation_expired", target: {} })).toBe(
      "bot.confirmation_expired",
    );
  });

  it("shows hand-off targets, settings keys, change ids and free-text reasons", () => {
    const handOff = auditLine(
      row({ action: AUDIT_ACTIONS.reindex, target: { target_index: `${INDEX}__reindex`, new_job_id: 77 } }),
    );
    expect(handOff).toContain("*reindex*");
    expect(handOff).toContain("→ job 77 → `prod_posts__reindex`");
    const hot = auditLine(
      row({
        action: AUDIT_ACTIONS.hotApply,
        target: { keys: ["stopWords", "synonyms"] },
        outcome: "failed",
        reason: `Meilisearch said api_key=${SECRET} ${HOSTILE}`,
        details: { task_uid: 55, change_id: 12 },
      }),
    );
    expect(hot).toContain(":x: failed — Meilisearch said api_key=[REDACTED] &lt;!channel&gt;");
    expect(hot).not.toContain(SECRET);
    expect(hot).toContain("stopWords, synonyms change 12 task 55");
    const revert = auditLine(
      row({ action: AUDIT_ACTIONS.hotApply, target: { keys: ["synonyms"], revert_of: 12 } }),
    );
    expect(revert).toContain("*revert*");
    expect(revert).toContain("revert of change 12");
  });

  it("shows a bulk retry's filter and size, and marks each of its replays as bulk", () => {
    const since = minutesAgo(120);
    const asked = auditLine(
      row({
        outcome: "requested",
        target: {
          source: "oban",
          bulk: { reasonClass: "transport", since: since.toISOString(), state: "terminal", source: "oban" },
          count: 812,
        },
        details: {},
      }),
    );
    expect(asked).toContain("bulk: class `transport` · terminal · since <!date^");
    expect(asked).toContain("· 812 jobs");
    expect(asked).not.toContain("count=");
    const replay = auditLine(row({ details: { queue: "search_sync", bulk: true } }));
    expect(replay).toContain("`oban:601` → job 1234 (bulk)");
    expect(auditLine(row())).not.toContain("(bulk)");
  });

  it("escapes hostile actors, schemas, outcomes and unknown target keys", () => {
    const m = auditView(
      [
        row({
          actor: HOSTILE,
          schema: "My&App.<Blog>",
          outcome: "<!here>",
          action: `x.${HOSTILE}`,
          target: { [`k${HOSTILE}`]: HOSTILE, nested: { a: 1 } },
          details: {},
        }),
        row({ id: 2, actor: "W0BOT", schema: null }),
      ],
      viewContext(),
      { limit: 20 },
    );
    expectSafe(m, { allowedUsers: ["W0BOT"] });
    const text = visibleText(m);
    expect(text).toContain("`&lt;!channel&gt; &lt;@U123&gt;");
    expect(text).toContain("`My&amp;App.&lt;Blog&gt;`");
    expect(text).toContain("&lt;!here&gt;");
    expect(text).toContain("<@W0BOT>");
    expect(text).toContain("no schema");
    expect(text).not.toContain("nested");
  });

  it("packs 200 entries into well under 50 blocks", () => {
    const rows = Array.from({ length: 200 }, (_, i) =>
      row({
        id: i + 1,
        at: minutesAgo(i),
        actor: i % 3 === 0 ? "cli:alice" : "U0ALICE",
        action: Object.values(AUDIT_ACTIONS)[i % 5] ?? AUDIT_ACTIONS.retry,
        outcome: i % 4 === 0 ? "refused" : "accepted",
        reason: i % 4 === 0 ? "already_replayed" : null,
        target: { source: "oban", id: 600 + i, new_job_id: 9000 + i },
      }),
    );
    const m = auditView(rows, viewContext(), { limit: 200 });
    expectSafe(m, { allowedUsers: ["U0ALICE"] });
    expect(m.blocks.length).toBeLessThan(20);
    const shown = lines(m).filter((l) => l.startsWith("<!date^"));
    expect(shown).toHaveLength(200);
    // Newest first: the first line is the entry 0 minutes ago, the last the oldest.
    expect(shown[0]).toContain(`<!date^${unix(minutesAgo(0))}^`);
    expect(shown[199]).toContain(`<!date^${unix(minutesAgo(199))}^`);
    for (const s of sectionTexts(m)) expect(s.length).toBeLessThanOrEqual(3000);
  });

  it("shows at most `limit` entries, and says how many did not fit", () => {
    const rows = Array.from({ length: 50 }, (_, i) => row({ id: i + 1, at: minutesAgo(i) }));
    const m = auditView(rows, viewContext(), { limit: 10 });
    expect(lines(m).filter((l) => l.startsWith("<!date^"))).toHaveLength(10);

    const huge = Array.from({ length: 200 }, (_, i) =>
      row({ id: i + 1, at: minutesAgo(i), reason: `error ${"x".repeat(500)}`, outcome: "failed" }),
    );
    const cut = auditView(huge, viewContext(), { limit: 200 });
    expectSafe(cut, { allowedUsers: ["U0ALICE"] });
    expect(cut.blocks.length).toBeLessThanOrEqual(50);
    expect(visibleText(cut)).toMatch(
      /_… [\d,]+ older entries not shown — name a schema to narrow the list\._/,
    );
  });
});
