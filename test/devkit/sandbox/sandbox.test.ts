// The sandbox without a browser: the demo deployment it seeds (checked through the operator), its page
// server's guards, signed delivery to the real bot, a whole retry driven through the page's API, and
// a kept --data-dir that is seeded once and survives a restart.
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../../devkit/sandbox/index.ts";
import { ANA, BEN, CHANNEL, OPS_GROUP, VIC } from "../../../devkit/sandbox/seed.ts";
import { payloadBody, signedHeaders } from "../../../devkit/signer.ts";
import { type Operator, openOperator } from "../../../src/operator/index.ts";
import { operatorContext } from "../../../src/operator/internal.ts";
import { CONFIRM_ACTIONS } from "../../../views/confirm.ts";

const REASON_CLASSES = ["transport", "validation", "backend_rejected", "queue_exhausted", "unknown"];

describe("the sandbox", { timeout: 90_000 }, () => {
  let dataDir: string;
  let sandbox: Sandbox;
  let operator: Operator;

  const page = (action: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(new URL(`/api/${action}`, sandbox.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const ephemeralOf = (user: string, text: string) =>
    sandbox.slack.listEphemerals(user).findLast((m) => JSON.stringify(m.blocks).includes(text));
  const waitFor = (check: () => boolean, what: string) => sandbox.slack.waitFor(check, () => what, 30_000);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "scrypath-sandbox-test-"));
    // As root, Postgres runs as the postgres user, who must be able to reach the directory.
    await chmod(dataDir, 0o755);
    sandbox = await startSandbox({ port: 0, dataDir, botLog: () => {}, workerIntervalMs: 200 });
    operator = openOperator(sandbox.config, { poolSize: 2 });
  }, 90_000);

  afterAll(async () => {
    await operator?.close();
    await sandbox?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("seeds failed work of every reason class, from real Meilisearch tasks and Elixir error texts", async () => {
    expect(sandbox.seeded).toBe(true);
    const posts = await operator.failedSyncWork("posts", { limit: 50 });
    for (const reasonClass of REASON_CLASSES) {
      expect(posts.counts.byClass[reasonClass as keyof typeof posts.counts.byClass]).toBeGreaterThan(0);
    }
    const sources = new Set(posts.entries.map((e) => e.source));
    expect(sources).toEqual(new Set(["meilisearch", "oban"]));
    const { rows } = await operatorContext(operator).db.query<{ error: string }>(
      "SELECT errors[array_length(errors, 1)]->>'error' AS error FROM public.oban_jobs WHERE array_length(errors, 1) > 0",
    );
    expect(rows.length).toBeGreaterThan(5);
    for (const { error } of rows)
      expect(error).toMatch(/^\*\* \([A-Z][\w.]+\) [\s\S]+?\n {4}\([a-z_]+ [\d.]+\) lib\//);
    const users = await operator.failedSyncWork("users");
    expect(users.entries.every((e) => e.source === "meilisearch")).toBe(true);
    expect(users.counts.total).toBeGreaterThan(0);
  });

  it("has a reindex under way, one drifted index, and schemas in oban and inline modes", async () => {
    const products = await operator.reconcileSync("products");
    expect(products.reindex).toMatchObject({ targetIndex: "prod_product__reindex", observed: true });
    expect(products.driftSignals).toContain("reindex_visibility_available");
    const { rows } = await operatorContext(operator).db.query(
      "SELECT state, worker FROM public.oban_jobs WHERE args->>'action' = 'reindex'",
    );
    expect(rows).toEqual([{ state: "executing", worker: "MyApp.Search.ReindexWorker" }]);

    const drift = await operator.indexContractDrift("users");
    expect(drift.dimensions.filterable_attributes.match).toBe(false);
    for (const clean of ["posts", "products", "articles"]) {
      const report = await operator.indexContractDrift(clean);
      const differing = Object.entries(report.dimensions).filter(([, d]) => !d.match);
      expect({ clean, differing }).toEqual({ clean, differing: [] });
    }
    expect(sandbox.config.schemas.map((s) => s.syncMode)).toEqual(["oban", "oban", "inline", "inline"]);
    expect(sandbox.config.access.operators.users).toEqual([ANA.id]);
  });

  it("subscribes the on-call channel to live alerts of its Oban-synced schemas, with demo timings", () => {
    expect(sandbox.config.alerts).toMatchObject({ interval: 5, resolveAfter: 30, timelineEvery: 10 });
    expect(sandbox.config.alerts.subscriptions).toEqual([
      {
        channel: CHANNEL.id,
        schemas: ["MyApp.Blog.Post", "MyApp.Catalog.Product"],
        on: ["failures", "drift", "unreadable"],
        minFailures: 1,
        mention: OPS_GROUP.id,
      },
    ]);
  });

  it("serves the page on 127.0.0.1 and refuses requests from other origins", async () => {
    expect(new URL(sandbox.url).hostname).toBe("127.0.0.1");
    expect(new URL(sandbox.botUrl).hostname).toBe("127.0.0.1");
    const html = await fetch(sandbox.url);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await html.text()).toContain('<script type="module" src="/app.js"></script>');
    expect((await fetch(new URL("/render.js", sandbox.url))).headers.get("content-type")).toContain(
      "javascript",
    );
    expect(
      (await page("command", { user: ANA.id, text: "/scrypath status" }, { Origin: "http://evil.test" }))
        .status,
    ).toBe(403);
    const plain = await fetch(new URL("/api/command", sandbox.url), { method: "POST", body: "{}" });
    expect(plain.status).toBe(415);
    expect((await page("command", { user: "U0NOBODY", text: "/scrypath status" })).status).toBe(400);
    expect((await fetch(new URL("/api/nothing", sandbox.url))).status).toBe(404);
  });

  it("signs what it sends: the bot accepts the sandbox's signature and refuses any other", async () => {
    const body = payloadBody({ type: "block_actions", actions: [] });
    const events = `${sandbox.botUrl}/slack/events`;
    const forged = await fetch(events, {
      method: "POST",
      headers: signedHeaders("not-the-secret", body),
      body,
    });
    expect(forged.status).toBe(401);
    const stale = await fetch(events, {
      method: "POST",
      headers: signedHeaders(sandbox.signingSecret, body, Math.floor(Date.now() / 1000) - 600),
      body,
    });
    expect(stale.status).toBe(401);

    expect((await page("command", { user: VIC.id, text: "/scrypath help" })).status).toBe(200);
    await waitFor(() => ephemeralOf(VIC.id, "/scrypath status") !== undefined, "the help answer");
    expect((await page("command", { user: VIC.id, text: "/deploy now" })).status).toBe(200);
    expect(sandbox.slack.listEphemerals(VIC.id).at(-1)).toMatchObject({
      from: "USLACKBOT",
      text: "/deploy is not a valid command.",
    });
  });

  it("answers typed text over 4,000 characters and <!channel> itself, escaped once", async () => {
    const long = await page("command", { user: VIC.id, text: `/scrypath failed ${"y".repeat(4_100)}` });
    expect(long.status).toBe(200);
    await waitFor(() => ephemeralOf(VIC.id, "too long") !== undefined, "the too-long answer");
    expect(ephemeralOf(VIC.id, "too long")?.text).toBe(
      "the command text is too long (4107 characters; at most 4000)",
    );
    await page("command", { user: VIC.id, text: "/scrypath failed <!channel>" });
    await waitFor(() => ephemeralOf(VIC.id, "nknown schema") !== undefined, "the unknown-schema answer");
    const echoed = JSON.stringify(ephemeralOf(VIC.id, "nknown schema")?.blocks);
    expect(echoed).toContain("&lt;!channel&gt;");
    expect(echoed).not.toContain("&amp;lt;");
  });

  it("runs a retry from the page's API to a verified thread reply, through the real confirmation flow", async () => {
    await page("command", { user: ANA.id, text: "/scrypath failed posts" });
    await waitFor(() => ephemeralOf(ANA.id, "need triage") !== undefined, "the failed work");
    const failed = ephemeralOf(ANA.id, "need triage");
    const blockIndex = (failed?.blocks ?? []).findIndex((b) =>
      JSON.stringify(b).includes("Req.TransportError"),
    );
    expect(blockIndex).toBeGreaterThan(0);
    const click = (user: string, where: Record<string, unknown>, i: number, element: number | "accessory") =>
      page("click", { user, where, blockIndex: i, elementIndex: element });
    expect((await click(ANA.id, { kind: "ephemeral", id: failed?.id }, blockIndex, "accessory")).status).toBe(
      200,
    );

    await waitFor(
      () => sandbox.slack.listMessages(CHANNEL.id).some((m) => m.text.includes("Confirm")),
      "the card",
    );
    const card = sandbox.slack.listMessages(CHANNEL.id).findLast((m) => m.text.includes("Confirm"));
    const actions = (card?.blocks ?? []).findIndex((b) =>
      JSON.stringify(b).includes(CONFIRM_ACTIONS.confirm),
    );
    expect((await click(BEN.id, { kind: "message", ts: card?.ts }, actions, 0)).status).toBe(200);

    const thread = () => sandbox.slack.listMessages(CHANNEL.id).filter((m) => m.threadTs === card?.ts);
    await waitFor(() => thread().some((m) => m.text.includes("verified")), "a verified reply");
    expect(sandbox.slack.message(CHANNEL.id, card?.ts as string)?.text).toMatch(/^Done/);
  });

  it("keeps its data in --data-dir: a restart finds the deployment and does not seed it again", async () => {
    const jobs = "SELECT count(*)::int AS n FROM public.oban_jobs";
    const before = (await operatorContext(operator).db.query(jobs)).rows[0];
    await operator.close();
    await sandbox.stop();
    expect(existsSync(path.join(dataDir, "postgres", "data", "PG_VERSION"))).toBe(true);
    expect(existsSync(path.join(dataDir, "meilisearch", "data.ms"))).toBe(true);

    sandbox = await startSandbox({ port: 0, dataDir, botLog: () => {} });
    operator = openOperator(sandbox.config, { poolSize: 2 });
    expect(sandbox.seeded).toBe(false);
    expect((await operatorContext(operator).db.query(jobs)).rows[0]).toEqual(before);
    // The confirmed retry of the previous run is still in the audit log.
    const audit = await operator.auditLog({ limit: 50 });
    expect(audit.map((r) => r.outcome)).toContain("confirmed");
    expect((await operator.failedSyncWork("posts")).counts.total).toBeGreaterThan(0);
    // So is the channel: the decided card and its verified reply.
    const kept = sandbox.slack.listMessages(CHANNEL.id);
    expect(kept.some((m) => m.text.startsWith("Done") && m.replyCount > 0)).toBe(true);
    expect(kept.some((m) => m.threadTs !== null && m.text.includes("verified"))).toBe(true);
  });
});
