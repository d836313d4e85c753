// buildDigest over the real Postgres and Meilisearch: posture, failed work by class, signals,
// contract drift, and schemas that could not be read (Meilisearch on a closed port).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { buildDigest } from "../../src/digest/content.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { insertJob } from "../support/db.ts";
import { closedPort } from "../support/digest.ts";
import { failDocumentTask, succeedDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PRODUCT = "MyApp.Catalog.Product";
const USER = "MyApp.Accounts.User";
const NOW = new Date("2026-11-20T08:00:00Z");

describe("buildDigest over real backends", () => {
  let d: TestDeployment;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ contract: { fields: ["title", "body"] } }),
      {
        module: PRODUCT,
        alias: "products",
        syncMode: "inline",
        contract: { fields: ["name"], filterable: ["brand"] },
      },
      { module: USER, alias: "users", syncMode: "oban", obanQueue: QUEUE },
    ]);
    const post = `${d.indexPrefix}_post`;
    const product = `${d.indexPrefix}_product`;
    const { pool, prefix } = d.oban;
    await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, post, [1]),
      errors: [obanError("** (Req.TransportError) timeout")],
    });
    await insertJob(pool, prefix, {
      state: "retryable",
      queue: QUEUE,
      args: upsertArgs(POST, post, [2]),
      errors: [obanError("** (Ecto.CastError) expected a map")],
    });
    // The product index exists with matching fields but without the declared filterable attribute.
    await succeedDocumentTask(d.meili, product, [{ id: 1, name: "a" }]);
    await failDocumentTask(d.meili, product, "missing_primary_key");
  });
  afterAll(() => d?.close());

  it("reads posture, failed work by class, signals and contract drift per schema", async () => {
    const s = await buildDigest(d.operator, { name: "t", schemas: null }, d.config, NOW);
    expect(s).toMatchObject({ version: 1, digest: "t", checkedAt: NOW.toISOString() });
    expect(s.posture.state).toBe("degraded");
    expect(s.posture.evidence.join(" ")).toContain("2 sync job(s) failed to apply");
    const [post, product, user] = s.schemas;
    expect(post).toMatchObject({
      schema: POST,
      alias: "posts",
      mode: "oban",
      index: `${d.indexPrefix}_post`,
      failed: { total: 2, scope: "all", byClass: { transport: 1, validation: 1 } },
      sync: { terminal: { backend: 0, queue: 1 }, signals: ["pending_queue_work", "failed_sync_work"] },
      problems: [{ check: "contract", backend: "meilisearch", code: "index_not_found" }],
      contract: { differing: null },
    });
    expect(product).toMatchObject({
      failed: { total: 1, byClass: { validation: 1 } },
      sync: { terminal: { backend: 1, queue: 0 } },
      problems: [],
    });
    expect(product?.contract?.differing).toContain("filterable_attributes");
    // No contract declared: nothing to check, nothing reported.
    expect(user).toMatchObject({ contract: null, problems: [], failed: { total: 0 } });
    // Plain JSON: it survives the round trip through jsonb unchanged.
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it("covers only the digest's schemas, in their order", async () => {
    const s = await buildDigest(d.operator, { name: "t", schemas: [USER, POST] }, d.config, NOW);
    expect(s.schemas.map((x) => x.schema)).toEqual([USER, POST]);
  });

  it("says what could not be checked when Meilisearch is down, and still counts the queue", async () => {
    const port = await closedPort();
    const down = createOperator({
      ...operatorContext(d.operator),
      meili: createMeiliClient({ url: `http://127.0.0.1:${port}`, apiKey: null, timeoutMs: 2000 }),
    });
    const s = await buildDigest(down, { name: "t", schemas: null }, d.config, NOW);
    expect(s.posture.state).toBe("degraded");
    expect(s.posture.evidence[0]).toContain("3 schema(s) report fetch errors");
    for (const schema of s.schemas) {
      expect(schema.sync).toBeNull();
      expect(schema.problems[0]).toMatchObject({
        check: "sync",
        backend: "meilisearch",
        code: "meilisearch_unreachable",
      });
      expect(schema.problems[0]?.message).toContain(`127.0.0.1:${port} is unreachable`);
    }
    // Oban schemas: the queue plane in Postgres is still read.
    expect(s.schemas[0]?.failed).toMatchObject({ total: 2, scope: "queue" });
    expect(s.schemas[1]?.failed).toBeNull();
  });

  it("reports a read that takes too long as not checked", async () => {
    const slow = {
      ...d.operator,
      reconcileSync: () => new Promise<never>(() => {}),
    } as typeof d.operator;
    const s = await buildDigest(slow, { name: "t", schemas: [USER] }, d.config, NOW, { timeoutMs: 50 });
    expect(s.schemas[0]?.problems[0]?.message).toBe(
      `the reconcile report of ${USER} did not answer within 0.05 s`,
    );
  });
});
