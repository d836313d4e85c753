import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/backends/postgres.ts";
import {
  claimSlot,
  findSlot,
  lastSlot,
  previousSlot,
  reclaimSlot,
  recordContent,
  recordFailed,
  recordPosted,
  recordSkipped,
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

  const db = () => d.operator.context.db;
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
});
