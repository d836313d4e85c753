// App assembly without the backends: start-up with and without the bot ids, Slack rate limits
// and refusals, graceful stop with an answer in flight, and the app.error backstop.
import { afterEach, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { SIGNING_SECRET, send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { parseConfig } from "../../src/config.ts";
import { OperatorError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import type { Operator, OperatorContext } from "../../src/operator/index.ts";
import { rememberContext } from "../../src/operator/internal.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";

const CONFIG = parseConfig(
  {
    meilisearch: { url: "http://127.0.0.1:9" },
    database: { url: "postgres://bot:pw@127.0.0.1:9/app" },
    schemas: [{ module: "MyApp.Blog.Post", alias: "posts" }],
  },
  {},
);
const TOKEN = "xoxb-app-test-token-1234";

function env(fake: FakeSlack, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    PORT: "0",
    ADMIN_PORT: "0",
    HOST: "127.0.0.1",
    ...extra,
  };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(operator: Partial<Operator> = {}, extra: NodeJS.ProcessEnv = {}) {
  const fake = await FakeSlack.start();
  cleanup.push(() => fake.close());
  fake.token = TOKEN;
  const logs: string[] = [];
  // A stand-in operator: its context (what the confirmation workflow is still handed) is the config.
  const standIn = { ...operator } as unknown as Operator;
  rememberContext(standIn, { config: CONFIG } as OperatorContext);
  const bot = createSlackApp({
    config: CONFIG,
    operator: standIn,
    env: env(fake, extra),
    logger: createLogger({ write: (line) => logs.push(line) }),
    workingAfterMs: 50,
  });
  return { fake, bot, logs };
}

async function started(bot: SlackApp): Promise<string> {
  const { port } = await bot.start();
  cleanup.push(async () => void (await bot.stop()));
  return `http://127.0.0.1:${port}`;
}

/** The admin server's base URL (/healthz, /readyz, /metrics) of a started bot. */
async function startedAdmin(bot: SlackApp): Promise<string> {
  const { adminPort } = await bot.start();
  cleanup.push(async () => void (await bot.stop()));
  return `http://127.0.0.1:${adminPort}`;
}

describe("createSlackApp", () => {
  it("checks the token with auth.test at start-up when the bot ids are not given", async () => {
    const { fake, bot } = await setup();
    await started(bot);
    expect(fake.callsTo("auth.test")).toHaveLength(1);
    expect(fake.callsTo("auth.test")[0]?.token).toBe(TOKEN);
  });

  it("waits out a rate limit on auth.test and counts it", async () => {
    const { fake, bot } = await setup();
    fake.failApi("auth.test", { status: 429, retryAfter: 1 });
    const admin = await startedAdmin(bot);
    expect(fake.callsTo("auth.test")).toHaveLength(2);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/scrypath_bot_slack_rate_limited_total\{method="auth.test"\} 1/);
    expect(metrics).toMatch(/scrypath_bot_slack_rate_limit_wait_seconds_total\{method="auth.test"\} 1/);
  });

  it("refuses to start with a token Slack rejects, saying which variable to check", async () => {
    const { bot } = await setup({}, { SLACK_BOT_TOKEN: "xoxb-revoked-000000" });
    await expect(bot.start()).rejects.toThrow(/auth\.test: invalid_auth\); check SLACK_BOT_TOKEN/);
    expect(bot.metrics.slackApiErrors).toBeDefined();
    expect(await bot.metrics.text()).toMatch(
      /scrypath_bot_slack_api_errors_total\{method="auth.test",reason="invalid_auth"\} 1/,
    );
  });

  it("lets an answer in flight finish before stop resolves", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { fake, bot } = await setup(
      {
        indexContractDrift: async () => {
          await gate;
          throw new OperatorError("meilisearch_unreachable", "Meilisearch is unreachable", "meilisearch");
        },
      },
      { SLACK_BOT_ID: "B0BOT0000", SLACK_BOT_USER_ID: "U0BOT0000" },
    );
    const { port } = await bot.start();
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `http://127.0.0.1:${port}/slack/events`,
      slashCommandRequest({ text: "drift posts", responseUrl: url }),
    );
    expect(ack.status).toBe(200);
    await fake.waitForPosts(id, 1); // the working note
    let stopped = false;
    const stopping = bot.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    const posts = fake.postsTo(id);
    expect(posts).toHaveLength(2);
    expect(String(posts[1]?.body.text)).toContain("Meilisearch");
  });

  it("answers an error no listener caught (app.error backstop) with a request id", async () => {
    const { fake, bot, logs } = await setup(
      {},
      { SLACK_BOT_ID: "B0BOT0000", SLACK_BOT_USER_ID: "U0BOT0000" },
    );
    bot.app.use(async () => {
      throw new Error("middleware exploded");
    });
    const base = await started(bot);
    const { id, url } = fake.responseUrl();
    // Nothing acknowledges this request: Bolt answers it 404 after its 3-second window.
    const pending = send(`${base}/slack/events`, slashCommandRequest({ text: "help", responseUrl: url }));
    const [post] = await fake.waitForPosts(id);
    expect(String(post?.body.text)).toMatch(/request id r[0-9a-f]{12}/);
    expect(JSON.stringify(post?.body)).not.toContain("middleware exploded");
    expect(
      logs.some((l) => l.includes('"msg":"unhandled error in Bolt"') && l.includes("middleware exploded")),
    ).toBe(true);
    expect((await pending).status).toBe(404);
  });
});
