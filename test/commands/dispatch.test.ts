import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSlashCommand } from "../../commands/index.ts";
import { runOpenAction } from "../../commands/open.ts";
import type { CommandDeps } from "../../commands/types.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { ACTIONS, REQUEST_ACTIONS } from "../../views/types.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const who = { userId: "U_ME", channelId: "C_ONCALL" };

describe("/scrypath dispatch over the real operator", () => {
  let d: TestDeployment;
  let deps: CommandDeps;
  const now = new Date("2026-11-24T12:00:00Z");

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ contract: { fields: ["title"] } }),
      { module: "MyApp.Catalog.Product", alias: "products" },
    ]);
    deps = { operator: d.operator, config: d.config, now: () => now };
    for (let i = 0; i < 12; i++) {
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(POST, `${d.indexPrefix}_post`, [i]),
        errors: [obanError(i % 2 ? "** (Req.TransportError) timeout" : "<!channel> ** (RuntimeError) boom")],
      });
    }
  });
  afterAll(() => d?.close());

  const run = async (text: string) => {
    const result = await runSlashCommand(text, who, deps);
    expectValidMessage(result.message);
    return result;
  };

  it("answers status, failed, reconcile, drift and help with valid messages", async () => {
    for (const text of [
      "status",
      "status posts",
      "failed posts",
      "failed posts --page 2",
      "help",
      "help failed",
      "failed --help",
    ]) {
      const r = await run(text);
      expect({ text, outcome: r.outcome }).toEqual({ text, outcome: "ok" });
    }
    // No live index yet: the contract cannot be read, and neither answer pretends otherwise.
    for (const text of ["drift posts", "reconcile posts"]) {
      const r = await run(text);
      expect({ text, outcome: r.outcome }).toEqual({ text, outcome: "backend_error" });
      expect(r.message.text).toMatch(/index not found/i);
    }
    await d.meili.createIndex(`${d.indexPrefix}_post`).waitTask();
    for (const text of ["drift posts", "reconcile posts"]) {
      expect({ text, outcome: (await run(text)).outcome }).toEqual({ text, outcome: "ok" });
    }
  });

  it("pages failed work: page 2 holds the rows after page 1", async () => {
    const first = await run("failed posts");
    const second = await run("failed posts --page 2");
    const ids = (m: typeof first): string[] => JSON.stringify(m.message.blocks).match(/oban:\d+/g) ?? [];
    expect(ids(first).length).toBeGreaterThan(0);
    expect(ids(second).filter((x) => ids(first).includes(x))).toEqual([]);
  });

  it("escapes data from the backends: a job error cannot ping the channel", async () => {
    const r = await run("failed posts --class queue_exhausted");
    expect(JSON.stringify(r.message)).not.toContain("<!channel>");
    expect(JSON.stringify(r.message)).toContain("&lt;!channel&gt;");
  });

  it("answers wrong calls with usage and a did-you-mean", async () => {
    const unknownVerb = await run("faild posts");
    expect(unknownVerb.outcome).toBe("usage");
    expect(JSON.stringify(unknownVerb.message)).toContain("/scrypath failed posts");
    const unknownSchema = await run("failed postz");
    expect(unknownSchema.outcome).toBe("usage");
    expect(JSON.stringify(unknownSchema.message)).toContain("/scrypath failed posts");
    const badFlag = await run("failed posts --clas transport");
    expect(JSON.stringify(badFlag.message)).toContain("--class");
    expect((await run("failed")).outcome).toBe("usage");
    expect((await run("failed posts extra")).outcome).toBe("usage");
    expect((await run("failed posts --class nope")).outcome).toBe("usage");
  });

  it("shares with --share and answers only in allowed channels", async () => {
    expect((await run("status posts --share")).share).toBe(true);
    const restricted = {
      ...deps,
      config: { ...d.config, access: { ...d.config.access, channels: ["C_OTHER"] } },
    };
    const denied = await runSlashCommand("status posts", who, restricted);
    expect(denied.outcome).toBe("denied");
    expect(denied.message.text).toMatch(/does not answer in this channel/);
  });

  it("shows the queue rows, marked partial, when Meilisearch is down", async () => {
    const down = createOperator({
      config: parseConfig({ ...d.raw, meilisearch: { url: "http://127.0.0.1:1", timeoutMs: 1000 } }, {}),
      db: operatorContext(d.operator).db,
      meili: createMeiliClient({ url: "http://127.0.0.1:1", apiKey: null, timeoutMs: 1000 }),
    });
    const partialDeps = { ...deps, operator: down };
    const failed = await runSlashCommand("failed posts", who, partialDeps);
    expectValidMessage(failed.message);
    expect(failed.outcome).toBe("ok");
    expect(JSON.stringify(failed.message)).toMatch(/partial/i);
    expect(JSON.stringify(failed.message)).toMatch(/Meilisearch/);
    const status = await runSlashCommand("status posts", who, partialDeps);
    expectValidMessage(status.message);
    expect(JSON.stringify(status.message)).toMatch(/unknown, not zero/);
    const drift = await runSlashCommand("drift posts", who, partialDeps);
    expect(drift).toMatchObject({ outcome: "backend_error", backend: "meilisearch" });
  });

  it("offers Retry all N <class>… under the rollup, N counted on the real rows", async () => {
    const bulk = (m: Awaited<ReturnType<typeof run>>) =>
      m.message.blocks.flatMap((b) =>
        b.type === "section" &&
        b.accessory?.type === "button" &&
        b.accessory.action_id === REQUEST_ACTIONS.bulkRetry
          ? [[b.accessory.text.text, JSON.parse(b.accessory.value ?? "")]]
          : [],
      );
    // Six transport timeouts and six discarded "boom"s (queue_exhausted), all replayable.
    expect(bulk(await run("failed posts"))).toEqual([
      ["Retry all 6 transport…", { schema: POST, reasonClass: "transport", state: "terminal" }],
      ["Retry all 6 queue_exhausted…", { schema: POST, reasonClass: "queue_exhausted", state: "terminal" }],
    ]);
    // Also on page 2 and under a class filter (that class only); none from Meilisearch's rows alone.
    expect(bulk(await run("failed posts --page 2")).map(([text]) => text)).toEqual([
      "Retry all 6 transport…",
      "Retry all 6 queue_exhausted…",
    ]);
    expect(bulk(await run("failed posts --class transport")).map(([text]) => text)).toEqual([
      "Retry all 6 transport…",
    ]);
    expect(bulk(await run("failed posts --source meilisearch"))).toEqual([]);
  });

  it("re-runs reads from buttons and refuses tampered values", async () => {
    const page = await runOpenAction(ACTIONS.page, JSON.stringify({ schema: "posts", page: 2 }), who, deps);
    expect(page.outcome).toBe("ok");
    const open = await runOpenAction(ACTIONS.openReconcile, JSON.stringify({ schema: "posts" }), who, deps);
    expect(open.verb).toBe("reconcile");
    for (const value of [
      "{",
      "null",
      JSON.stringify({ schema: "posts", cursor: "DROP" }),
      JSON.stringify({ schema: "posts", x: 1 }),
    ]) {
      expect((await runOpenAction(ACTIONS.page, value, who, deps)).outcome).toBe("usage");
    }
    expect(
      (await runOpenAction("scrypath.unknown", JSON.stringify({ schema: "posts" }), who, deps)).outcome,
    ).toBe("usage");
  });
});
