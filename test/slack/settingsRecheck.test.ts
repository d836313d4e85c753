// Confirm re-checks the live settings against what the card showed: a hot-apply or a revert whose
// keys' live values moved between the card and the Confirm click is refused (card edited, audited,
// nothing applied), since confirming would apply a diff nobody reviewed. A revert whose change is no
// longer live is refused before any card. Signed HTTP into the real Bolt app, real Postgres and
// Meilisearch (the live values are changed directly in Meilisearch), the fake Slack.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { ALICE, BOB, Harness, jargonIn, readerText, type TestBot, textOf } from "./confirmHarness.ts";

const POST = "MyApp.Blog.Post";

describe("a settings confirm refuses live values that moved since the card", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let live: string;

  const index = () => d.meili.index(live);
  const changeCount = async () =>
    Number(
      (await d.oban.pool.query(`SELECT count(*)::int AS n FROM "${d.config.state.schema}".settings_changes`))
        .rows[0].n,
    );

  /** The hot-apply card, requested through the modal as an operator would. */
  const requestHotApply = (settings: Record<string, unknown>) => h.requestHotApply(bot, settings);

  const refusalAudit = async (cardId: string) => {
    const rows = await h.auditOf(cardId);
    expect(rows.map((r) => r.outcome)).toEqual(["requested", "confirmed", "refused"]);
    return rows[2] as Record<string, unknown>;
  };

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts" }]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await index()
      .updateSettings({ stopWords: ["an"] })
      .waitTask();
    h = await Harness.create(d);
    bot = await h.bot();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("hot-apply: someone changes the stop words between the card and the confirm; refused, nothing applied, audited", async () => {
    const card = await requestHotApply({ stopWords: ["the", "a"] });
    expect(readerText(card.body)).toContain("*stopWords*\nAdded (2): `a`, `the`\nRemoved (1): `an`");
    const changes = await changeCount();

    // Someone else, directly in Meilisearch.
    await index()
      .updateSettings({ stopWords: ["an", "of"] })
      .waitTask();
    await h.decide(bot, card, BOB);
    const refused = await h.cardUpdate(card.ts, /live_settings_changed/);
    const shown = readerText(refused);
    expect(shown).toContain(
      "the live values changed since this card was posted: stopWords: added `of`; request again to review",
    );
    expect(shown).toContain("Nothing was changed.");
    expect(jargonIn(refused)).toEqual([]);

    // Nothing applied: the stop words are the other person's, and no change was recorded.
    expect((await index().getStopWords())?.slice().sort()).toEqual(["an", "of"]);
    expect(await changeCount()).toBe(changes);
    expect(await refusalAudit(card.id)).toMatchObject({
      actor: BOB,
      action: "scrypath.ops.hot_apply",
      reason: "live_settings_changed",
      details: { moved: ["stopWords"], message: expect.stringContaining("stopWords: added `of`") },
    });
    expect((await h.confirmation(card.id)).status).toBe("failed");
  });

  it("hot-apply: a key the card does not touch may move; the card's keys did not, so it applies", async () => {
    const card = await requestHotApply({ stopWords: ["the"] });
    await index()
      .updateSettings({ synonyms: { tv: ["television"] } })
      .waitTask();
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    expect(await index().getStopWords()).toEqual(["the"]);
    expect(await index().getSynonyms()).toEqual({ tv: ["television"] });
  });

  it("revert: a typo-tolerance field moved after the card, though the change is still live; refused, the other value kept", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { typoTolerance: { enabled: false } },
      acknowledgeLive: true,
      actor: { id: ALICE },
    });
    expect(applied.task.status).toBe("succeeded");
    const before = h.fake.posted.length;
    await h.command(bot, `settings revert ${applied.changeId}`, ALICE);
    const card = await h.nextCard(before);
    expect(readerText(card.body)).toContain("*What the revert restores*");

    // Still carries `enabled: false` (so the old check would let the revert overwrite this).
    await index()
      .updateSettings({ typoTolerance: { minWordSizeForTypos: { oneTypo: 3 } } })
      .waitTask();
    await h.decide(bot, card, BOB);
    const refused = readerText(await h.cardUpdate(card.ts, /live_settings_changed/));
    expect(refused).toContain(
      "typoTolerance: `minWordSizeForTypos.oneTypo`: `5` → `3`; request again to review",
    );
    const typo = await index().getTypoTolerance();
    expect(typo).toMatchObject({ enabled: false, minWordSizeForTypos: { oneTypo: 3 } });
    expect(await refusalAudit(card.id)).toMatchObject({
      actor: BOB,
      reason: "live_settings_changed",
      target: { revert_of: applied.changeId },
    });
    // Not claimed: a fresh request can still revert it, once reviewed.
    const again = h.fake.posted.length;
    await h.command(bot, `settings revert ${applied.changeId}`, ALICE);
    const fresh = await h.nextCard(again);
    await h.decide(bot, fresh, BOB);
    await h.cardUpdate(fresh.ts, /^Done/);
    expect(await index().getTypoTolerance()).toMatchObject({
      enabled: true,
      minWordSizeForTypos: { oneTypo: 5 },
    });
  });

  it("revert: a change no longer live is refused at the request, privately, before any card", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { stopWords: ["xx"] },
      acknowledgeLive: true,
      actor: { id: ALICE },
    });
    await index()
      .updateSettings({ stopWords: ["yy"] })
      .waitTask();
    const before = h.fake.posted.length;
    const answer = textOf(await h.answer(await h.command(bot, `settings revert ${applied.changeId}`, ALICE)));
    expect(answer).toContain("settings_changed_since");
    expect(answer).toContain(`the live stopWords changed after change ${applied.changeId}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.posted.slice(before)).toEqual([]);
    const [row] = await h.auditWithReason("settings_changed_since");
    expect(row).toMatchObject({ actor: ALICE, outcome: "refused", details: { step: "check" } });
    expect(await index().getStopWords()).toEqual(["yy"]);
  });
});
