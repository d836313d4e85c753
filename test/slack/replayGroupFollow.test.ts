// A bulk retry's replays followed as a group in the card's thread: the real Bolt app's followers
// over real Postgres and Meilisearch, the fake Slack recording the one reply and its edits. The
// replays are made with executeBulkRetry and moved on as Oban and the workers would (the devkit
// worker writing real documents, SQL for failures).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { createLogger } from "../../src/log.ts";
import type { WorkflowPorts } from "../../src/operator/confirmations/types.ts";
import type { Operator } from "../../src/operator/index.ts";
import { createSlackApp } from "../../src/slack/app.ts";
import { bulkReplaysOf, discardJobs, TRANSPORT } from "../support/bulk.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";
import { startTcpProxy } from "../support/tcpProxy.ts";
import { CHANNEL, expectValid, Harness, readerText, type TestBot } from "./confirmHarness.ts";

describe("following a bulk retry's replays as a group in the thread", () => {
  let d: TestDeployment;
  let h: Harness;
  let live: string;
  let nextDoc = 9000;
  let nextTs = 100;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
  });
  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  /** `n` failed rows replayed with executeBulkRetry: the new job ids, lowest first. */
  const bulkReplays = (n: number): Promise<number[]> =>
    bulkReplaysOf(
      d,
      live,
      Array.from({ length: n }, () => nextDoc++),
      { actor: { id: "U0ALICE001" } },
    );

  const discard = (ids: number[], error: string) => discardJobs(d, ids, error);

  const group = (jobIds: number[]) => ({
    channel: CHANNEL,
    threadTs: `1700000001.${String(nextTs++).padStart(6, "0")}`,
    jobIds,
    schema: POST,
    startedAt: new Date(),
    confirmationId: `bulk-${nextTs}`,
  });

  /** The one reply in `threadTs`, and every edit of it, as posted. */
  const thread = (threadTs: string) => {
    const replies = h.fake.posted.filter((p) => p.body.thread_ts === threadTs);
    expect(replies).toHaveLength(1);
    const reply = replies[0] as { ts: string; body: Record<string, unknown> };
    return { reply, edits: h.fake.updatesOf(reply.ts) };
  };

  it("edits one reply as the replays complete, fail and are verified by sampling, then stops", async () => {
    const t: TestBot = await h.bot({ follow: { timeoutMs: 60_000, intervalMs: 100, maxIntervalMs: 200 } });
    const jobs = await bulkReplays(8);
    const target = group(jobs);
    const following = t.bot.followers.followGroup(target);
    const first = await h.reply(target.threadTs, /8 pending/);
    expect(String(first.text)).toContain("accepted is not searchable");
    expect(String(first.text)).toContain("8 replays · 0 completed · 8 pending");

    // Five run through the worker (documents in the index), one completes, two fail on transport.
    for (const id of jobs.slice(0, 5)) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, id);
    await d.oban.pool.query(
      `UPDATE "${d.oban.prefix}".oban_jobs SET state = 'completed', completed_at = now() WHERE id = $1`,
      [jobs[5]],
    );
    await discard(jobs.slice(6), TRANSPORT);

    const ended = await following;
    expect(ended).toMatchObject({
      state: "failed",
      completed: 6,
      pending: 0,
      failed: 2,
      failedByClass: { transport: 2 },
      sample: { sampled: 5, verified: 5 },
    });
    const last = await h.reply(target.threadTs, /finished with failures/);
    const text = readerText(last);
    expect(text).toContain(
      "8 replays · 6 completed · 2 failed (transport 2) · verified 5 of 5 sampled documents",
    );
    expect(text).toContain(`/scrypath failed ${POST} --class transport`);
    expect(text).toContain(`5 of 5 sampled documents verified in \`${live}\``);

    // One reply, edited in place, and only when a figure changed: no two edits in a row say the same.
    const { edits } = thread(target.threadTs);
    for (const edit of edits) expectValid(edit);
    const texts = edits.map((e) => String(e.text));
    for (let i = 1; i < texts.length; i++) expect(texts[i]).not.toBe(texts[i - 1]);
    expect(t.bot.followers.active).toBe(0);
    const metrics = await t.bot.metrics.registry.metrics();
    expect(metrics).toMatch(/scrypath_bot_bulk_retry_follows_total\{state="failed"\} 1/);
    // Each replay link keeps its job's verdict, as a single retry's follower records it.
    const { rows } = await d.oban.pool.query(
      `SELECT verification, count(*)::int AS n FROM "${d.config.state.schema}".replay_links
       WHERE replay_job_id = ANY($1::bigint[]) GROUP BY 1 ORDER BY 1`,
      [jobs],
    );
    expect(rows).toEqual([
      { verification: "failed", n: 2 },
      { verification: "queue_only_completed", n: 1 },
      { verification: "verified", n: 5 },
    ]);
  });

  it("ends completed once every replay completed and the sample is in the index", async () => {
    const t = await h.bot({ follow: { timeoutMs: 60_000, intervalMs: 100, maxIntervalMs: 200 } });
    const jobs = await bulkReplays(3);
    for (const id of jobs) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, id);
    const target = group(jobs);
    expect(await t.bot.followers.followGroup(target)).toMatchObject({ state: "completed" });
    const done = await h.reply(target.threadTs, /^Bulk retry completed/);
    expect(readerText(done)).toContain(`Completed, 3 of 3 sampled documents verified in \`${live}\`.`);
  });

  it("says what is known when following times out, and keeps following through a Meilisearch outage", async () => {
    const quick = await h.bot({ follow: { timeoutMs: 1_500, intervalMs: 100, maxIntervalMs: 200 } });
    const idle = await bulkReplays(3);
    const target = group(idle);
    expect(await quick.bot.followers.followGroup(target)).toMatchObject({ state: "timed_out", pending: 3 });
    const timedOut = await h.reply(target.threadTs, /timed out/);
    expect(readerText(timedOut)).toMatch(/3 still pending after \d+ s; accepted is not searchable\./);

    // Meilisearch stops answering while the sample is checked: the follower says nothing wrong,
    // looks again, and ends verified once Meilisearch answers again.
    const meiliUrl = new URL(String((d.raw.meilisearch as { url: string }).url));
    const proxy = await startTcpProxy({ host: meiliUrl.hostname, port: Number(meiliUrl.port) });
    try {
      const cut = await h.bot({
        meilisearch: {
          ...(d.raw.meilisearch as object),
          url: proxy.rewrite(meiliUrl.toString()),
          timeoutMs: 300,
        },
        follow: { timeoutMs: 60_000, intervalMs: 100, maxIntervalMs: 200 },
      });
      const jobs = await bulkReplays(2);
      const blip = group(jobs);
      const following = cut.bot.followers.followGroup(blip);
      await h.reply(blip.threadTs, /2 pending/);
      proxy.setMode("dropAnswers");
      for (const id of jobs) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, id);
      await h.fake.waitFor(
        () =>
          cut.logs.some((line) =>
            line.includes("could not observe the bulk retry's replays; will look again"),
          ),
        () => "the follower never met the outage",
      );
      proxy.setMode("pass");
      expect(await following).toMatchObject({ state: "completed", sample: { sampled: 2, verified: 2 } });
      await h.reply(blip.threadTs, /^Bulk retry completed/);
    } finally {
      await proxy.close();
    }
  });

  it("is the surface's followReplayGroup port: the workflow's call starts a follower in the thread", async () => {
    // The same operator, noting the ports the Slack side gives the confirmation workflow.
    let ports: WorkflowPorts | null = null;
    const operator: Operator = Object.create(d.operator, {
      confirmationWorkflow: {
        value: (given: WorkflowPorts) => {
          ports = given;
          return d.operator.confirmationWorkflow(given);
        },
      },
    });
    const t = await h.bot();
    const app = createSlackApp({
      config: t.config,
      operator,
      env: slackEnv(h.fake, h.fake.token as string),
      logger: createLogger({ write: () => {} }),
      follow: { intervalMs: 100, maxIntervalMs: 200, timeoutMs: 60_000 },
    });
    // The workflow is made on the first sweep (assembling the app touches no backend).
    await app.confirmations.sweep();
    expect(ports).not.toBeNull();
    const jobs = await bulkReplays(2);
    for (const id of jobs) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, id);
    const target = group(jobs);
    (ports as unknown as WorkflowPorts).followReplayGroup(target);
    expect(app.followers.active).toBe(1);
    const done = await h.reply(target.threadTs, /^Bulk retry completed/);
    expect(readerText(done)).toContain("2 replays · 2 completed");
    app.followers.stopAll();
  });
});
