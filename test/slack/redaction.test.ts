// The credential corpus and hostile control characters through the real Bolt app (signed HTTP,
// real Postgres and Meilisearch, fake Slack): job errors carrying every credential shape wrapped
// in ANSI escapes and a bidi override are listed by `/scrypath failed`, page by page; the bodies
// Slack receives and the bot's log lines carry none of it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { SIGNING_SECRET, send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { FAILED_PAGE_SIZE } from "../../views/failed.ts";
import { validateMessage } from "../support/blockKit.ts";
import { ALL_SECRETS, CREDENTIALS } from "../support/credentials.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";

const BOT_TOKEN = "xoxb-3333-4444-redactiontestbottoken";
const ALLOWED = "C0ONCALL01";

function hostile(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f)) return true;
    if (c === 0x061c || c === 0x200e || c === 0x200f) return true;
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

describe("Slack bodies and logs carry no credential and no control character", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let bot: SlackApp;
  let base: string;
  const logs: string[] = [];

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    const live = `${d.indexPrefix}_post`;
    let id = 1;
    for (const c of CREDENTIALS) {
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(POST, live, [id++], { note: `\u202e${c.text}` }),
        // Only the first line is shown: multi-line shapes start on it.
        errors: [
          obanError(`\u001b[31m** (RuntimeError) ${c.text.replace(/\n/g, " ")}\u001b[0m \u202egnp.exe`),
        ],
        attempt: 20,
        maxAttempts: 20,
      });
    }
    fake = await FakeSlack.start();
    fake.token = BOT_TOKEN;
    bot = createSlackApp({
      config: parseConfig({ ...d.raw, access: { channels: [ALLOWED] } }, {}),
      operator: d.operator,
      env: slackEnv(fake, BOT_TOKEN, { LOG_LEVEL: "debug" }),
      logger: createLogger({
        level: "debug",
        write: (line) => logs.push(line),
        secrets: [BOT_TOKEN, SIGNING_SECRET],
      }),
    });
    const { port } = await bot.start();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await d?.close();
  });

  it("/scrypath failed, every page: each row's error shown with its secret redacted", async () => {
    const pages = Math.ceil(CREDENTIALS.length / FAILED_PAGE_SIZE);
    let rowsWithError = 0;
    for (let page = 1; page <= pages; page++) {
      const { id, url } = fake.responseUrl();
      const started = Date.now();
      const ack = await send(
        `${base}/slack/events`,
        slashCommandRequest({ text: `failed posts --page ${page}`, responseUrl: url, channelId: ALLOWED }),
      );
      expect(ack.status).toBe(200);
      const [post] = await fake.waitForPosts(id, 1);
      expect(Date.now() - started).toBeLessThan(15_000);
      const body = post?.body as Record<string, unknown>;
      expect(validateMessage({ text: body.text, blocks: body.blocks })).toEqual([]);
      const json = JSON.stringify(body);
      for (const secret of ALL_SECRETS) expect(json).not.toContain(secret);
      expect(hostile(json)).toBe(false);
      expect(json).not.toMatch(/\\u00(1b|9b)|\\u202e/i);
      rowsWithError += json.split("(RuntimeError)").length - 1;
      expect(json).toContain("[REDACTED]");
      expect(json).toContain("gnp.exe");
    }
    // Every job's error appeared on some page.
    expect(rowsWithError).toBeGreaterThanOrEqual(CREDENTIALS.length);
  });

  it("a credential typed into a command is not echoed back, nor logged", async () => {
    const token = "xoxp-1234567890-1234567890-1234567890123-TypedIntoTheCommand0";
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text: `failed ${token}`, responseUrl: url, channelId: ALLOWED }),
    );
    expect(ack.status).toBe(200);
    const [post] = await fake.waitForPosts(id, 1);
    const json = JSON.stringify(post?.body);
    expect(json).toContain("[REDACTED]");
    // Whatever the bot logs about the request (nothing of its text today) stays clean too.
    const all = logs.join("\n");
    for (const secret of [...ALL_SECRETS, "TypedIntoTheCommand0", BOT_TOKEN, SIGNING_SECRET]) {
      expect(json).not.toContain(secret);
      expect(all).not.toContain(secret);
    }
  });
});
