// The real Bolt app in HTTP mode on a free loopback port, over the real Postgres and Meilisearch,
// with its Web API and every response_url pointing at a local fake Slack. Requests are signed
// exactly as Slack signs them.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type ResponsePost } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import {
  blockActionsRequest,
  SIGNING_SECRET,
  send,
  signed,
  slashCommandRequest,
} from "../../devkit/slackRequests.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { ACTIONS } from "../../views/types.ts";
import { validateMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues, slackEnv } from "../support/slack.ts";

const BOT_TOKEN = "xoxb-1111-2222-e2etokenvalue";
const ALLOWED = "C0ONCALL01";

function expectMessage(post: ResponsePost | undefined): Record<string, unknown> {
  expect(post).toBeDefined();
  const body = (post as ResponsePost).body;
  expect(typeof body.text).toBe("string");
  expect((body.text as string).trim()).not.toBe("");
  expect(Array.isArray(body.blocks)).toBe(true);
  expect(validateMessage({ text: body.text, blocks: body.blocks })).toEqual([]);
  return body;
}

const allText = (body: Record<string, unknown>) => JSON.stringify(body);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the Slack app over signed HTTP, real Postgres and Meilisearch", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let bot: SlackApp;
  let base: string;
  let admin: string;
  let config: Config;
  const logs: string[] = [];

  const command = async (text: string, opts: { userId?: string; channelId?: string } = {}) => {
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text, responseUrl: url, channelId: ALLOWED, ...opts }),
    );
    return { id, ack };
  };

  const answerTo = async (text: string, opts: { userId?: string; channelId?: string } = {}) => {
    const { id, ack } = await command(text, opts);
    expect(ack).toEqual({ status: 200, body: "" });
    const [post] = await fake.waitForPosts(id, 1);
    return expectMessage(post);
  };

  const metricsText = async () => (await fetch(`${admin}/metrics`)).text();

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({
        contract: {
          fields: ["title", "body"],
          filterable: ["status"],
          sortable: ["inserted_at"],
          settings: { synonyms: { car: ["automobile"] }, stopWords: ["the"] },
        },
      }),
    ]);
    const live = `${d.indexPrefix}_post`;
    // 14 failed jobs: two pages of ten; one real failed Meilisearch task on the live index.
    for (let i = 1; i <= 14; i++) {
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: i % 2 === 0 ? "discarded" : "retryable",
        queue: QUEUE,
        args: upsertArgs(POST, live, [i]),
        errors: [
          obanError(
            i % 2 === 0
              ? '** (Ecto.CastError) cannot cast "x" to :integer'
              : "** (Req.TransportError) timeout",
          ),
        ],
        attempt: i % 2 === 0 ? 8 : 1,
        maxAttempts: 8,
      });
    }
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await failDocumentTask(d.meili, live, "missing_primary_key");

    config = parseConfig({ ...d.raw, access: { channels: [ALLOWED, "C0OTHER002"] } }, {});
    fake = await FakeSlack.start();
    fake.token = BOT_TOKEN;
    bot = createSlackApp({
      config,
      operator: d.operator,
      env: slackEnv(fake, BOT_TOKEN),
      logger: createLogger({ write: (line) => logs.push(line), secrets: [BOT_TOKEN, SIGNING_SECRET] }),
    });
    const { port, adminPort } = await bot.start();
    base = `http://127.0.0.1:${port}`;
    admin = `http://127.0.0.1:${adminPort}`;
  });

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await d?.close();
  });

  it("starts without calling Slack when the bot ids are given", () => {
    expect(fake.calls).toEqual([]);
  });

  it("answers /scrypath status with the fleet posture, ephemeral, after an empty ack", async () => {
    const body = await answerTo("status");
    expect(body.response_type).toBe("ephemeral");
    expect(body.replace_original).toBe(false);
    expect(allText(body)).toContain("Scrypath posture");
    expect(allText(body)).toContain("*posts*");
  });

  it("answers /scrypath status posts with both planes and the open buttons", async () => {
    const body = await answerTo("status posts");
    expect(body.response_type).toBe("ephemeral");
    expect(buttonValues(body, ACTIONS.openFailed)).toHaveLength(1);
    expect(allText(body)).toContain("Sync status");
  });

  it("answers /scrypath failed posts with the rollup and a page button, and --page 2 with the rest", async () => {
    const first = await answerTo("failed posts");
    expect(allText(first)).toMatch(/needs? triage/);
    expect(buttonValues(first, ACTIONS.page).length).toBeGreaterThan(0);
    const second = await answerTo("failed posts --page 2");
    expect(allText(second)).toContain("rows 11");
  });

  it("replaces the ephemeral message when a page button is clicked", async () => {
    const first = await answerTo("failed posts");
    const [value] = buttonValues(first, ACTIONS.page);
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      blockActionsRequest({
        actionId: ACTIONS.page,
        value: value as string,
        responseUrl: url,
        channelId: ALLOWED,
      }),
    );
    expect(ack).toEqual({ status: 200, body: "" });
    const [post] = await fake.waitForPosts(id);
    const body = expectMessage(post);
    expect(body.replace_original).toBe(true);
    expect(body.response_type).toBe("ephemeral");
    expect(allText(body)).toContain("rows 11");
  });

  it("posts a new ephemeral message when the Failed work button is clicked", async () => {
    const status = await answerTo("status posts");
    const [value] = buttonValues(status, ACTIONS.openFailed);
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      blockActionsRequest({
        actionId: ACTIONS.openFailed,
        value: value as string,
        responseUrl: url,
        channelId: ALLOWED,
      }),
    );
    expect(ack.status).toBe(200);
    const [post] = await fake.waitForPosts(id);
    const body = expectMessage(post);
    expect(body.replace_original).toBe(false);
    expect(body.response_type).toBe("ephemeral");
    expect(allText(body)).toMatch(/needs? triage/);
  });

  it("answers drift, reconcile and help", async () => {
    expect(allText(await answerTo("drift posts"))).toMatch(/contract|drift/i);
    expect(allText(await answerTo("reconcile posts"))).toMatch(/reconcile|recommend/i);
    const help = await answerTo("help");
    for (const verb of ["status", "failed", "reconcile", "drift"]) expect(allText(help)).toContain(verb);
  });

  it("drift suggests the fix (hot-apply for synonyms and stop words, a reindex otherwise) and lists each difference once", async () => {
    const started = Date.now();
    const body = await answerTo("drift posts");
    expect(Date.now() - started).toBeLessThan(15_000);
    const sections = (body.blocks as { type: string; text?: { text: string } }[])
      .filter((b) => b.type === "section")
      .map((b) => b.text?.text ?? "");
    const settings = sections.find((t) => t.includes("*settings* — differs")) ?? "";
    expect(settings).toContain("`synonyms`");
    expect(settings).toContain("`stopWords`");
    // Already listed under filterable_attributes and sortable_attributes: not repeated here.
    expect(settings).not.toContain("filterableAttributes");
    expect(settings).not.toContain("sortableAttributes");
    const all = sections.join("\n");
    expect(all.match(/`status`/g)).toHaveLength(1);
    expect(all.match(/`inserted_at`/g)).toHaveLength(1);
    const fix = sections.find((t) => t.startsWith("*Suggested fix*"));
    expect(fix).toBe(
      [
        "*Suggested fix*",
        "• `synonyms`, `stopWords` can change on the live index: `/scrypath settings hot-apply MyApp.Blog.Post`",
        "• `filterable_attributes`, `sortable_attributes` need a reindex (a new index built with the declared settings, then swapped in): `/scrypath reconcile MyApp.Blog.Post --action reindex`",
      ].join("\n"),
    );
  });

  it("answers an unknown verb with usage, and a typo with did-you-mean", async () => {
    const unknown = await answerTo("frobnicate");
    expect(allText(unknown)).toContain("frobnicate");
    expect(allText(unknown)).toContain("/scrypath help");
    const typo = await answerTo("statsu posts");
    expect(allText(typo)).toContain("/scrypath status posts");
  });

  it("names the configured schemas when none is given, and what a sub-command lacks", async () => {
    const started = Date.now();
    const missing = await answerTo("failed");
    expect(missing.text).toBe(
      "expected a schema, for example `/scrypath failed posts`; configured schemas: MyApp.Blog.Post (posts)",
    );
    const hotApply = await answerTo("settings hot-apply");
    expect(allText(hotApply)).not.toMatch(/sub-command/);
    expect(hotApply.text).toMatch(
      /^expected a schema, for example .*configured schemas: MyApp\.Blog\.Post \(posts\)$/,
    );
    const revert = await answerTo("settings REVERT");
    expect(revert.text).toBe("expected a settings change id such as `12` (the audit log lists them)");
    expect((await answerTo("settings")).text).toMatch(/^expected a sub-command/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("matches schema names in any case, like verbs", async () => {
    for (const text of ["status POSTS", "failed Posts", "STATUS myapp.blog.post"]) {
      const body = await answerTo(text);
      expect({ text, said: allText(body) }).toEqual({
        text,
        said: expect.stringContaining("MyApp.Blog.Post"),
      });
      expect(allText(body)).not.toMatch(/unknown schema/i);
    }
  });

  it("answers a text over 4,000 characters itself, with usage", async () => {
    const started = Date.now();
    const body = await answerTo(`failed posts ${"x".repeat(4_100)}`);
    expect(body.response_type).toBe("ephemeral");
    expect(body.text).toBe("the command text is too long (4113 characters; at most 4000)");
    expect(allText(body)).toContain("Usage:");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("echoes typed text escaped once: Slack's own escaping is read back first", async () => {
    // Slack sends what a person typed with `&`, `<` and `>` escaped; the bot escapes it again for mrkdwn.
    const body = await answerTo("failed &lt;!channel&gt; &amp;co");
    const section = JSON.stringify(body.blocks);
    expect(body.text).toBe("unexpected extra words: &amp;co");
    expect(section).not.toContain("&amp;lt;");
    expect(section).not.toContain("<!channel>");
    const unknown = await answerTo("failed &lt;!channel&gt;");
    expect(unknown.text).toMatch(/^unknown schema "&lt;!channel&gt;"; configured schemas: MyApp\.Blog\.Post/);
    expect(JSON.stringify(unknown.blocks)).toContain('Unknown schema \\"&lt;!channel&gt;\\"');
    expect(JSON.stringify(unknown.blocks)).not.toContain("&amp;lt;");
  });

  it("shares with --share: in_channel, with Requested by", async () => {
    const body = await answerTo("status posts --share", { userId: "U0BOB00002" });
    expect(body.response_type).toBe("in_channel");
    expect(body.replace_original).toBe(false);
    expect(allText(body)).toContain("Requested by <@U0BOB00002>");
  });

  it("refuses a channel outside access.channels", async () => {
    const body = await answerTo("status posts", { channelId: "C0ELSEWHERE" });
    expect(body.response_type).toBe("ephemeral");
    expect(allText(body)).toContain("does not answer in this channel");
    expect(allText(body)).not.toContain("Sync status");
  });

  it("rejects bad, stale and missing signatures with 401 and does no work", async () => {
    const before = await metricsText();
    const count = (text: string) =>
      [...text.matchAll(/^scrypath_bot_commands_total\{[^}]*\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    const rejected: string[] = [];
    const attempts = [
      { secret: "not-the-signing-secret" },
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
      { unsigned: true },
    ];
    for (const options of attempts) {
      const { id, url } = fake.responseUrl();
      rejected.push(id);
      const answer = await send(
        `${base}/slack/events`,
        slashCommandRequest({ text: "status", responseUrl: url }, options),
      );
      expect(answer.status).toBe(401);
    }
    // A tampered body with a signature of the original text.
    const { id, url } = fake.responseUrl();
    rejected.push(id);
    const good = slashCommandRequest({ text: "status", responseUrl: url });
    const tampered = await send(`${base}/slack/events`, {
      ...good,
      body: good.body.replace("status", "failed"),
    });
    expect(tampered.status).toBe(401);
    // A valid request afterwards is answered: anything the rejected ones started would be done by now.
    await answerTo("help");
    for (const rid of rejected) expect(fake.postsTo(rid)).toEqual([]);
    expect(count(await metricsText())).toBe(count(before) + 1);
  });

  it("answers a signed body that is no Slack payload without crashing", async () => {
    // Bolt cannot tell what it is, so nothing acknowledges it: its unhandled-request handler
    // answers 404 after its 3-second window.
    const answer = await send(`${base}/slack/events`, signed("%%%&&&=="));
    expect(answer.status).toBe(404);
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
  });

  it("logs and counts a failing response_url, and keeps serving", async () => {
    const { id, url } = fake.responseUrl();
    fake.failRespond(id, 500);
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text: "help", responseUrl: url, channelId: ALLOWED }),
    );
    expect(ack.status).toBe(200);
    await fake.waitForPosts(id);
    await fake.until(
      () => logs.some((l) => l.includes("could not post the answer")),
      10_000,
      () => "no log line about the failed response_url post",
    );
    expect(await metricsText()).toMatch(
      /scrypath_bot_slack_api_errors_total\{method="response_url",reason="http_500"\} [1-9]/,
    );
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
  });

  it("serves /healthz, /readyz and the deep check on the admin port", async () => {
    const health = await fetch(`${admin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, phase: "serving" });
    const deep = await fetch(`${admin}/readyz?deep=1`);
    expect(deep.status).toBe(200);
    expect(await deep.json()).toEqual({
      ready: true,
      phase: "serving",
      postgres: { ok: true },
      meilisearch: { ok: true },
    });
    expect(await metricsText()).toMatch(/^scrypath_bot_backend_up\{backend="meilisearch"\} 1$/m);
    expect(await metricsText()).toMatch(/^scrypath_bot_ready 1$/m);
  });

  it("serves only /slack/events on the Slack port: the admin routes are 404 there", async () => {
    for (const path of ["/healthz", "/readyz", "/readyz?deep=1", "/metrics"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
  });

  it("exposes the command counters and latency histograms on /metrics", async () => {
    const text = await metricsText();
    expect(text).toMatch(/scrypath_bot_commands_total\{verb="status",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/scrypath_bot_commands_total\{verb="unknown",outcome="usage"\} [1-9]/);
    expect(text).toMatch(/scrypath_bot_commands_total\{verb="status",outcome="denied"\} [1-9]/);
    expect(text).toMatch(
      /scrypath_bot_command_duration_seconds_bucket\{le="[^"]+",verb="failed",outcome="ok"\}/,
    );
    expect(text).toContain("scrypath_bot_process_resident_memory_bytes");
  });

  it("writes one JSON object per line with request id, command, user and duration, never a secret", () => {
    const parsed = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const answered = parsed.filter((l) => l.msg === "answered");
    expect(answered.length).toBeGreaterThan(5);
    for (const line of answered) {
      expect(line).toMatchObject({ level: "info", requestId: expect.stringMatching(/^r[0-9a-f]{12}$/) });
      expect(typeof line.time).toBe("string");
      expect(typeof line.durationMs).toBe("number");
      expect(typeof line.user).toBe("string");
    }
    expect(answered.some((l) => l.command === "/scrypath" && l.verb === "status")).toBe(true);
    const all = logs.join("\n");
    expect(all).not.toContain(BOT_TOKEN);
    expect(all).not.toContain(SIGNING_SECRET);
  });
});

describe("a slow or missing Meilisearch", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let hang: Server;
  const sockets: Socket[] = [];
  const opened: { bot: SlackApp; operator: Operator }[] = [];

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", contract: { fields: ["title"] } }]);
    fake = await FakeSlack.start();
    // Accepts connections and never answers.
    hang = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hang.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    for (const { bot, operator } of opened) {
      await bot.stop();
      await operator.close();
    }
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => hang?.close(() => resolve()));
    await fake?.close();
    await d?.close();
  });

  const appWith = async (meilisearch: Record<string, unknown>) => {
    const config = parseConfig({ ...d.raw, meilisearch }, {});
    const operator = createOperator({
      config,
      db: createPool(config.database.url, { max: 2 }),
      meili: createMeiliClient(config.meilisearch),
    });
    const bot = createSlackApp({
      config,
      operator,
      env: slackEnv(fake, BOT_TOKEN),
      logger: createLogger({ write: () => {} }),
      readinessTimeoutMs: 500,
    });
    opened.push({ bot, operator });
    const { port, adminPort } = await bot.start();
    return { base: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
  };

  it("posts a still-working note, then replaces it with the answer naming Meilisearch", async () => {
    const { port } = hang.address() as { port: number };
    const { base, admin } = await appWith({ url: `http://127.0.0.1:${port}`, timeoutMs: 3_000 });
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text: "drift posts", responseUrl: url }),
    );
    expect(ack).toEqual({ status: 200, body: "" });
    // The ack came back before the backend could have answered anything.
    expect(fake.postsTo(id)).toEqual([]);
    const [working, answer] = await fake.waitForPosts(id, 2);
    const note = expectMessage(working);
    expect(note.text).toContain("Still working on /scrypath drift posts");
    expect(note).toMatchObject({ response_type: "ephemeral", replace_original: false });
    const body = expectMessage(answer);
    expect(body).toMatchObject({ response_type: "ephemeral", replace_original: true });
    expect(allText(body)).toContain("Meilisearch");
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/scrypath_bot_backend_errors_total\{backend="meilisearch"\} 1/);
    expect(metrics).toMatch(/scrypath_bot_working_notes_total\{verb="drift"\} 1/);
  });

  it("stays ready when Meilisearch is on a closed port; the deep check says which backend is down", async () => {
    const { admin } = await appWith({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1_000 });
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const ready = await fetch(`${admin}/readyz?deep=1`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as {
      ready: boolean;
      postgres: { ok: boolean };
      meilisearch: { ok: boolean; error: string };
      down: { backend: string; error: string }[];
    };
    expect(body.ready).toBe(false);
    expect(body.down.map((d) => d.backend)).toEqual(["meilisearch"]);
    expect(body.postgres).toEqual({ ok: true });
    expect(body.meilisearch.ok).toBe(false);
    expect(body.meilisearch.error).toMatch(
      /^Meilisearch at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)$/,
    );
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^scrypath_bot_backend_up\{backend="meilisearch"\} 0$/m);
  });
});
