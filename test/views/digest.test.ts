import { describe, expect, it } from "vitest";
import { type DigestListEntry, diffDigest } from "../../src/core/digest.ts";
import type { DigestPreview } from "../../src/digest/runner.ts";
import { digestDetails, digestParent, THREAD_SCHEMAS } from "../../views/digest.ts";
import { digestListView, digestPreviewView } from "../../views/digestList.ts";
import { ACTIONS, type SlackMessage } from "../../views/types.ts";
import { expectValidMessage, unexpectedTokens } from "../support/blockKit.ts";
import { schemaDigest, snapshot, unreadable } from "../support/digest.ts";
import { POST } from "../support/posts.ts";
import {
  buttons,
  DASHBOARD_HOSTS,
  expectSafe,
  HOSTILE,
  SECRET,
  viewContext,
  visibleText,
} from "./fixtures.ts";

const PRODUCT = "MyApp.Catalog.Product";
const ctx = (extra: Partial<Parameters<typeof digestParent>[2]> = {}) => ({
  ...viewContext(),
  digest: "search-morning",
  late: false,
  slotAt: new Date("2026-11-20T08:00:00Z"),
  ...extra,
});

const quiet = () => snapshot([schemaDigest(POST, { alias: "posts" }), schemaDigest(PRODUCT)]);
const degraded = () =>
  snapshot([
    schemaDigest(POST, { alias: "posts", failedByClass: { transport: 20, validation: 7 } }),
    schemaDigest(PRODUCT, { contract: { differing: ["settings", "faceting"] } }),
    unreadable("MyApp.Accounts.User"),
  ]);

describe("digestParent", () => {
  it("leads with the verdict and counts, and says what changed", () => {
    const before = snapshot([
      schemaDigest(POST, { alias: "posts", failedByClass: { transport: 4 } }),
      schemaDigest(PRODUCT),
      schemaDigest("MyApp.Accounts.User"),
    ]);
    const now = degraded();
    const m = digestParent(now, diffDigest(before, now), ctx());
    expectSafe(m);
    const text = visibleText(m);
    expect(m.blocks[0]?.type).toBe("header");
    expect(text).toContain("Scrypath digest: Degraded");
    expect(text).toContain("*3 schemas checked*");
    expect(text).toContain("1 could not be fully checked");
    expect(text).toContain("1 with failed work (27 rows: transport 20 · validation 7)");
    expect(text).toContain("1 with contract drift");
    expect(text).toContain("will not self-heal");
    expect(text).toContain("Meilisearch could not be read for 1 check");
    expect(text).toContain("*What changed since the previous check* (<!date^");
    expect(text).toContain("*posts* — failed work: transport +16 (now 20), validation +7 (now 7)");
    expect(text).toContain("contract now differs: `settings`, `faceting`");
    expect(text).toContain("*MyApp.Accounts.User* — sync could not be checked (Meilisearch)");
    expect(text).not.toContain("Late:");
    expect(m.text).toContain("Scrypath digest search-morning: Degraded");
  });

  it("says it is the first digest, or that nothing changed", () => {
    const first = digestParent(quiet(), diffDigest(null, quiet()), ctx());
    expectSafe(first);
    expect(visibleText(first)).toContain("First digest of this schedule");
    expect(visibleText(first)).toContain("No fetch errors observed");
    const same = digestParent(quiet(), diffDigest(quiet(), quiet()), ctx());
    expect(visibleText(same)).toContain("*Nothing changed since the previous check* (<!date^");
  });

  it("marks improvements, and resolved classes", () => {
    const before = degraded();
    const after = quiet();
    const text = visibleText(digestParent(after, diffDigest(before, after), ctx()));
    expect(text).toContain(
      ":white_check_mark: *posts* — failed work: transport resolved (was 20), validation resolved (was 7)",
    );
    expect(text).toContain("*Posture:* degraded → *ok*");
    expect(text).toContain("no longer in this digest: `MyApp.Accounts.User`");
  });

  it("marks a late digest with the slot it was due", () => {
    const m = digestParent(quiet(), diffDigest(null, quiet()), ctx({ late: true }));
    expectSafe(m);
    expect(visibleText(m)).toMatch(/:hourglass: \*Late:\* this digest was due <!date\^1795161600\^/);
    expect(m.text).toContain("search-morning (late)");
  });

  it("mentions the user group only when degraded, and only a well-formed id", () => {
    const bad = degraded();
    const m = digestParent(bad, diffDigest(null, bad), ctx({ mention: "S0123ABCD" }));
    expectValidMessage(m);
    expect(unexpectedTokens(m, { allowedHosts: DASHBOARD_HOSTS })).toEqual([
      "<!subteam^S0123ABCD>",
      "<!subteam^S0123ABCD>",
    ]);
    expect(m.text.startsWith("<!subteam^S0123ABCD> ")).toBe(true);
    const ok = digestParent(quiet(), diffDigest(null, quiet()), ctx({ mention: "S0123ABCD" }));
    expect(JSON.stringify(ok)).not.toContain("subteam");
    const forged = digestParent(bad, diffDigest(null, bad), ctx({ mention: "S1> <!channel" }));
    expect(unexpectedTokens(forged, { allowedHosts: DASHBOARD_HOSTS })).toEqual([]);
  });

  it("escapes backend text and redacts secrets", () => {
    const hostile = snapshot([
      schemaDigest(POST, { alias: HOSTILE, failedByClass: { unknown: 1 } }),
      unreadable(PRODUCT, `${HOSTILE} api_key=${SECRET} ${"x".repeat(5000)}`),
    ]);
    const m = digestParent(hostile, diffDigest(snapshot([]), hostile), ctx());
    expectSafe(m);
    for (const d of digestDetails(hostile, ctx())) expectSafe(d);
  });
});

describe("digestDetails", () => {
  it("gives each schema that needs a look a section and a button to the matching view", () => {
    const messages = digestDetails(degraded(), ctx());
    expect(messages).toHaveLength(1);
    const m = messages[0] as SlackMessage;
    expectSafe(m);
    const text = visibleText(m);
    // Most urgent first: not checked, failed work, contract drift.
    const order = ["MyApp.Accounts.User", "*posts*", "MyApp.Catalog.Product"].map((s) => text.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(text).toContain(
      "*Failed work:* 27 — transport 20 · validation 7 (27 terminal, will not self-heal)",
    );
    expect(text).toContain("*Contract:* 2 of 5 differ — `settings`, `faceting`");
    expect(text).toContain(
      ":warning: *sync status and failed work could not be checked:* Meilisearch: Meilisearch at http://127.0.0.1:1 is unreachable",
    );
    expect(text).toContain("`/scrypath failed &lt;schema&gt;`");
    expect(buttons(m).map((b) => [b.text.text, b.action_id, JSON.parse(b.value ?? "{}").schema])).toEqual([
      ["Status", ACTIONS.openStatus, "MyApp.Accounts.User"],
      ["Failed work", ACTIONS.openFailed, POST],
      ["Contract drift", ACTIONS.openDrift, PRODUCT],
    ]);
  });

  it("splits 200 schemas needing a look into several valid thread messages, each schema once", () => {
    const schemas = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0
        ? unreadable(`MyApp.Schema${i}`)
        : schemaDigest(`MyApp.Schema${i}`, {
            failedByClass: { transport: i, unknown: 1 },
            contract: { differing: ["settings"] },
          }),
    );
    const messages = digestDetails(snapshot(schemas), ctx());
    expect(messages.length).toBeGreaterThanOrEqual(Math.ceil(200 / THREAD_SCHEMAS));
    const seen: string[] = [];
    messages.forEach((m, n) => {
      expectSafe(m);
      expect(m.blocks.length).toBeLessThanOrEqual(50);
      expect(m.text).toContain(`part ${n + 1} of ${messages.length}`);
      for (const b of buttons(m)) seen.push(JSON.parse(b.value ?? "{}").schema);
    });
    expect(seen.sort()).toEqual(schemas.map((s) => s.schema).sort());
  });

  it("folds clear schemas into lists of names", () => {
    const schemas = Array.from({ length: 200 }, (_, i) => schemaDigest(`MyApp.Quiet.Schema${i}`));
    const messages = digestDetails(snapshot(schemas), ctx());
    expect(messages).toHaveLength(1);
    const m = messages[0] as SlackMessage;
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("*200 schemas clear* — no failed work, no contract drift, every check read:");
    for (const s of schemas) expect(text).toContain(s.schema);
    expect(buttons(m)).toEqual([]);
  });
});

describe("digestListView and digestPreviewView", () => {
  const entry = (over: Partial<DigestListEntry> = {}): DigestListEntry => ({
    name: "search-morning",
    channel: "C0123456789",
    cron: "0 9 * * 1-5",
    timezone: "Europe/Berlin",
    when: "changed",
    schemas: ["MyApp.Blog.Post"],
    nextRun: new Date("2026-11-23T08:00:00Z"),
    lastSlot: null,
    ...over,
  });

  it("shows each digest with its next run as a date token, and what happened last", () => {
    const m = digestListView(
      [
        entry(),
        entry({
          name: "nightly",
          schemas: null,
          when: "degraded",
          lastSlot: {
            slotAt: new Date("2026-11-20T02:00:00Z"),
            status: "failed",
            late: false,
            reason: `An API error occurred: channel_not_found ${HOSTILE}`,
          },
        }),
      ],
      viewContext(),
    );
    expectValidMessage(m);
    const text = visibleText(m);
    expect(text).toContain(
      "*search-morning* → <#C0123456789> · `0 9 * * 1-5` (Europe/Berlin) · 1 schema · speaks when something changed",
    );
    expect(text).toContain("Next: <!date^1795420800^{date_short_pretty} {time}|2026-11-23 08:00 UTC>");
    expect(text).toContain("Last: no digest yet");
    expect(text).toContain("all schemas · speaks when degraded");
    expect(text).not.toMatch(/ posts /);
    expect(text).toContain(":x: failed at <!date^");
    expect(unexpectedTokens(m).filter((t) => !t.startsWith("<#C"))).toEqual([]);
    expectValidMessage(digestListView([], viewContext()));
  });

  it("previews without posting: a note, then the digest itself", () => {
    const s = degraded();
    const preview: DigestPreview = {
      name: "search-morning",
      channel: "C0123456789",
      decision: { post: true, reason: "changed since the previous digest" },
      parent: digestParent(s, diffDigest(null, s), ctx()),
      details: digestDetails(s, ctx()),
      snapshot: s,
    };
    const messages = digestPreviewView(preview, viewContext());
    expect(messages).toHaveLength(3);
    for (const m of messages) expectValidMessage(m);
    expect(visibleText(messages[0] as SlackMessage)).toContain("nothing was posted to <#C0123456789>");
    expect(visibleText(messages[0] as SlackMessage)).toContain(
      "would *post* (changed since the previous digest)",
    );
  });
});
