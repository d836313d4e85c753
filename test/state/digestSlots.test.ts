import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/backends/postgres.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import {
  claimSlot,
  findSlot,
  lastSlot,
  previousSlot,
  reclaimSlot,
  recordContent,
  recordFailed,
  recordIntent,
  recordPosted,
  recordSkipped,
  recordSuperseded,
  recordUnconfirmed,
  unfinishedSlots,
} from "../../src/state/digestSlots.ts";
import { ensureState } from "../../src/state/migrations.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";

const T0 = new Date("2026-11-20T08:00:00Z");
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

describe("digest slots in Postgres", () => {
  let d: TestDeployment;
  let state: string;

  beforeAll(async () => {
    d = await testDeployment([]);
    state = d.config.state.schema;
  });
  afterAll(() => d?.close());

  const db = () => operatorContext(d.operator).db;
  const slot = (digest: string, key: string, at = T0, by = "a") =>
    claimSlot(db(), state, { digest, slotKey: key, slotAt: at, claimedBy: by, at, late: false });

  it("reads nothing before the tables exist", async () => {
    expect(await lastSlot(db(), state, "search-morning")).toBeNull();
    expect(await previousSlot(db(), state, "search-morning")).toBeNull();
    await ensureState(db(), state);
  });

  it("lets exactly one of 30 concurrent claims from three replicas win a slot", async () => {
    const pools = [
      db(),
      createPool(d.config.database.url, { max: 5 }),
      createPool(d.config.database.url, { max: 5 }),
    ];
    try {
      const claims = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          claimSlot(pools[i % 3] as (typeof pools)[number], state, {
            digest: "race",
            slotKey: "2026-11-20T09:00 Europe/Berlin",
            slotAt: T0,
            claimedBy: `replica-${i}`,
            at: T0,
            late: false,
          }),
        ),
      );
      const winners = claims.filter((c) => c !== null);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({ status: "claimed", attempts: 1, messageTs: [], content: null });
    } finally {
      await Promise.all(pools.slice(1).map((p) => p.end()));
    }
  });

  it("fences every write on the claimant, and records ts as they come", async () => {
    const row = await slot("fence", "k1");
    expect(row).not.toBeNull();
    const mine = { digest: "fence", slotKey: "k1", claimedBy: "a" };
    const theirs = { ...mine, claimedBy: "b" };
    expect(await recordContent(db(), state, theirs, { content: { x: 1 }, contentHash: "h", at: T0 })).toBe(
      false,
    );
    expect(
      await recordContent(db(), state, mine, { content: { x: 1 }, contentHash: "h", at: minutes(1) }),
    ).toBe(true);
    expect(
      await recordPosted(db(), state, mine, { channel: "C1", ts: ["1.1"], complete: false, at: minutes(2) }),
    ).toBe(true);
    let found = await findSlot(db(), state, "fence", "k1");
    expect(found).toMatchObject({
      status: "claimed",
      messageTs: ["1.1"],
      channel: "C1",
      content: { x: 1 },
      contentHash: "h",
    });
    expect(found?.claimedAt).toEqual(minutes(2));
    expect(
      await recordPosted(db(), state, mine, {
        channel: "C1",
        ts: ["1.1", "1.2"],
        complete: true,
        at: minutes(3),
      }),
    ).toBe(true);
    found = await findSlot(db(), state, "fence", "k1");
    expect(found).toMatchObject({ status: "posted", messageTs: ["1.1", "1.2"], finishedAt: minutes(3) });
    // Finished: nothing can change it any more.
    expect(await recordFailed(db(), state, mine, { reason: "late", at: minutes(4) })).toBe(false);
  });

  it("takes over a failed or abandoned claim once, keeping what was posted, within the attempt limit", async () => {
    await slot("retry", "k1");
    const a = { digest: "retry", slotKey: "k1", claimedBy: "a" };
    await recordPosted(db(), state, a, { channel: "C1", ts: ["9.1"], complete: false, at: T0 });
    const reclaim = (by: string, at: Date) =>
      reclaimSlot(db(), state, {
        digest: "retry",
        slotKey: "k1",
        claimedBy: by,
        at,
        staleBefore: new Date(at.getTime() - 10 * 60_000),
        maxAttempts: 3,
        late: true,
      });
    // A fresh claim is not taken over.
    expect(await reclaim("b", minutes(5))).toBeNull();
    // An abandoned one is, by exactly one of several replicas.
    const takeovers = await Promise.all(["b", "c", "d"].map((by) => reclaim(by, minutes(11))));
    const winner = takeovers.filter((r) => r !== null);
    expect(winner).toHaveLength(1);
    expect(winner[0]).toMatchObject({ attempts: 2, messageTs: ["9.1"], late: true, status: "claimed" });
    // The old claimant can no longer write.
    expect(
      await recordPosted(db(), state, a, {
        channel: "C1",
        ts: ["9.1", "9.2"],
        complete: true,
        at: minutes(12),
      }),
    ).toBe(false);
    const holder = { ...a, claimedBy: winner[0]?.claimedBy as string };
    expect(await recordFailed(db(), state, holder, { reason: "boom", at: minutes(12) })).toBe(true);
    expect((await findSlot(db(), state, "retry", "k1"))?.reason).toBe("boom");
    expect(await reclaim("e", minutes(13))).toMatchObject({ attempts: 3, reason: null });
    await recordFailed(db(), state, { ...a, claimedBy: "e" }, { reason: "boom again", at: minutes(14) });
    // Three attempts: it stays failed.
    expect(await reclaim("f", minutes(15))).toBeNull();
  });

  it("finds the previous posted or skipped slot with its snapshot, and the last slot of any status", async () => {
    for (const [key, at, outcome] of [
      ["s1", minutes(0), "posted"],
      ["s2", minutes(60), "skipped"],
      ["s3", minutes(120), "failed"],
    ] as const) {
      await slot("prev", key, at);
      const claim = { digest: "prev", slotKey: key, claimedBy: "a" };
      if (outcome === "posted") {
        await recordContent(db(), state, claim, { content: { n: 1 }, contentHash: "h1", at });
        await recordPosted(db(), state, claim, { channel: "C1", ts: ["1"], complete: true, at });
      } else if (outcome === "skipped") {
        await recordSkipped(db(), state, claim, {
          content: { n: 2 },
          contentHash: "h2",
          reason: "unchanged",
          at,
        });
      } else await recordFailed(db(), state, claim, { reason: "boom", at });
    }
    expect(await previousSlot(db(), state, "prev")).toMatchObject({
      slotKey: "s2",
      content: { n: 2 },
      contentHash: "h2",
    });
    expect(await previousSlot(db(), state, "prev", minutes(60))).toMatchObject({
      slotKey: "s1",
      status: "posted",
    });
    expect(await previousSlot(db(), state, "prev", minutes(0))).toBeNull();
    const last = await lastSlot(db(), state, "prev");
    expect(last).toMatchObject({ slotKey: "s3", status: "failed", reason: "boom", content: null });
  });

  it("writes each post ahead: the mark survives a takeover and is cleared by the ts record", async () => {
    await slot("ahead", "k1");
    const a = { digest: "ahead", slotKey: "k1", claimedBy: "a" };
    expect(
      await recordIntent(db(), state, { ...a, claimedBy: "x" }, { channel: "C1", index: 0, at: T0 }),
    ).toBe(false);
    expect(await recordIntent(db(), state, a, { channel: "C1", index: 0, at: minutes(1) })).toBe(true);
    expect(await findSlot(db(), state, "ahead", "k1")).toMatchObject({
      posting: 0,
      postingAt: minutes(1),
      channel: "C1",
      claimedAt: minutes(1),
      messageTs: [],
    });
    // The claimant dies here; the takeover sees that message 0 may be in Slack.
    const b = await reclaimSlot(db(), state, {
      digest: "ahead",
      slotKey: "k1",
      claimedBy: "b",
      at: minutes(12),
      staleBefore: minutes(2),
      maxAttempts: 3,
      late: false,
    });
    expect(b).toMatchObject({ posting: 0, postingAt: minutes(1), attempts: 2 });
    const claimB = { ...a, claimedBy: "b" };
    await recordPosted(db(), state, claimB, { channel: "C1", ts: ["5.1"], complete: false, at: minutes(13) });
    expect(await findSlot(db(), state, "ahead", "k1")).toMatchObject({
      posting: null,
      postingAt: null,
      messageTs: ["5.1"],
    });
    const listed = await lastSlot(db(), state, "ahead");
    expect(listed).toMatchObject({ posting: null, messageTs: ["5.1"] });
  });

  it("closes a slot as unconfirmed or superseded for good: no takeover, no later write", async () => {
    const reclaim = (digest: string, by: string) =>
      reclaimSlot(db(), state, {
        digest,
        slotKey: "k1",
        claimedBy: by,
        at: minutes(30),
        staleBefore: minutes(20),
        maxAttempts: 3,
        late: false,
      });
    await slot("unconfirmed", "k1");
    const a = { digest: "unconfirmed", slotKey: "k1", claimedBy: "a" };
    await recordIntent(db(), state, a, { channel: "C1", index: 0, at: T0 });
    expect(await recordUnconfirmed(db(), state, a, { reason: "missing_scope", at: minutes(1) })).toBe(true);
    expect(await findSlot(db(), state, "unconfirmed", "k1")).toMatchObject({
      status: "unconfirmed",
      reason: "missing_scope",
      finishedAt: minutes(1),
      posting: 0,
    });
    expect(await reclaim("unconfirmed", "b")).toBeNull();
    expect(
      await recordPosted(db(), state, a, { channel: "C1", ts: ["1"], complete: true, at: minutes(2) }),
    ).toBe(false);

    await slot("superseded", "k1");
    const s = { digest: "superseded", slotKey: "k1", claimedBy: "a" };
    await recordIntent(db(), state, s, { channel: "C1", index: 0, at: T0 });
    expect(await recordSuperseded(db(), state, s, { reason: "later slot", at: minutes(1) })).toBe(true);
    expect(await findSlot(db(), state, "superseded", "k1")).toMatchObject({
      status: "superseded",
      posting: null,
    });
    expect(await reclaim("superseded", "b")).toBeNull();
  });

  it("lists older slots left with something possibly in Slack, abandoned or failed, within the window", async () => {
    const at = (m: number) => minutes(m);
    const cases: Array<
      [string, number, (c: { digest: string; slotKey: string; claimedBy: string }) => Promise<unknown>]
    > = [
      // Abandoned after writing the parent ahead: listed.
      ["k00", 0, (c) => recordIntent(db(), state, c, { channel: "C1", index: 0, at: at(0) })],
      // Failed with a recorded parent: listed.
      [
        "k05",
        5,
        async (c) => {
          await recordPosted(db(), state, c, { channel: "C1", ts: ["1"], complete: false, at: at(5) });
          await recordFailed(db(), state, c, { reason: "boom", at: at(5) });
        },
      ],
      // Abandoned before anything was sent: nothing to finish.
      ["k10", 10, async () => {}],
      // Posted: done.
      [
        "k15",
        15,
        (c) => recordPosted(db(), state, c, { channel: "C1", ts: ["2"], complete: true, at: at(15) }),
      ],
      // Still fresh (progress 1 minute before "now"): its claimant is alive.
      ["k20", 20, (c) => recordIntent(db(), state, c, { channel: "C1", index: 0, at: at(39) })],
    ];
    for (const [key, m, act] of cases) {
      await slot("older", key, at(m));
      await act({ digest: "older", slotKey: key, claimedBy: "a" });
    }
    // Before slot 25, now 40, lease 10 minutes.
    const found = await unfinishedSlots(db(), state, {
      digest: "older",
      before: at(25),
      since: at(-60),
      staleBefore: at(30),
      maxAttempts: 3,
    });
    expect(found.map((r) => r.slotKey)).toEqual(["k00", "k05"]);
    // Outside the window (grace) nothing is listed.
    const narrow = await unfinishedSlots(db(), state, {
      digest: "older",
      before: at(25),
      since: at(1),
      staleBefore: at(30),
      maxAttempts: 3,
    });
    expect(narrow.map((r) => r.slotKey)).toEqual(["k05"]);
    expect(
      await unfinishedSlots(db(), state, {
        digest: "older",
        before: at(25),
        since: at(-60),
        staleBefore: at(30),
        maxAttempts: 1,
      }),
    ).toEqual([]);
  });
});
