import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/backends/postgres.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import {
  claimConfirmation,
  createConfirmation,
  duePending,
  expireConfirmation,
  findConfirmation,
  finishConfirmation,
} from "../../src/state/confirmations.ts";
import { ensureState } from "../../src/state/migrations.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";

describe("confirmation requests in Postgres", () => {
  let d: TestDeployment;
  let state: string;

  beforeAll(async () => {
    d = await testDeployment([]);
    state = d.config.state.schema;
    await ensureState(operatorContext(d.operator).db, state);
  });
  afterAll(() => d?.close());

  const request = (ttlSeconds = 900) =>
    createConfirmation(operatorContext(d.operator).db, state, {
      kind: "retry",
      schema: "MyApp.Blog.Post",
      request: { id: 601 },
      requestedBy: "U_A",
      teamId: "T1",
      channelId: "C1",
      threadTs: null,
      ttlSeconds,
    });

  it("gives every request a random, unguessable id and a deadline", async () => {
    const a = await request();
    const b = await request();
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.status).toBe("pending");
    expect(a.expiresAt.getTime() - a.createdAt.getTime()).toBeCloseTo(900_000, -3);
    expect(await findConfirmation(operatorContext(d.operator).db, state, "../../etc")).toBeNull();
  });

  it("lets exactly one of 20 concurrent clicks from two replicas claim it", async () => {
    const c = await request();
    const other = createPool(d.config.database.url, { max: 6 });
    try {
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          claimConfirmation(
            i % 2 ? other : operatorContext(d.operator).db,
            state,
            c.id,
            "executing",
            `U_${i}`,
          ),
        ),
      );
      const winners = claims.filter((x) => x !== null);
      expect(winners).toHaveLength(1);
      const row = await findConfirmation(operatorContext(d.operator).db, state, c.id);
      expect(row?.status).toBe("executing");
      expect(row?.decidedBy).toBe(winners[0]?.decidedBy);
      // A cancel after the claim loses too.
      expect(
        await claimConfirmation(operatorContext(d.operator).db, state, c.id, "cancelled", "U_X"),
      ).toBeNull();
      await finishConfirmation(operatorContext(d.operator).db, state, c.id, "done", { job_id: 7 });
      expect(await findConfirmation(operatorContext(d.operator).db, state, c.id)).toMatchObject({
        status: "done",
        result: { job_id: 7 },
      });
    } finally {
      await other.end();
    }
  });

  it("refuses to claim an expired request even when no sweeper ran", async () => {
    const c = await request(0.01);
    await new Promise((r) => setTimeout(r, 30));
    expect(
      await claimConfirmation(operatorContext(d.operator).db, state, c.id, "executing", "U_B"),
    ).toBeNull();
    expect((await duePending(operatorContext(d.operator).db, state)).map((x) => x.id)).toContain(c.id);
    expect(await expireConfirmation(operatorContext(d.operator).db, state, c.id)).toMatchObject({
      status: "expired",
    });
    expect(await expireConfirmation(operatorContext(d.operator).db, state, c.id)).toBeNull();
  });
});
